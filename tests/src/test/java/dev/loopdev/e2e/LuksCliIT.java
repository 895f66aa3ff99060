package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * LUKS from the command line, with the real tools on the other side: images that cryptsetup formats served by
 * {@code loopdev serve} and filled with nbdcopy; images {@code loopdev luks format} makes checked by cryptsetup;
 * wrong and empty passphrases, options a header decides, and a file system in the way, each refused in one line
 * with the image unchanged; offline encrypt/decrypt to and from LUKS2; header backup and restore.
 */
class LuksCliIT {
    /** Cheap keyslots: the tests are about formats, not about KDF cost. */
    static final String[] FAST = {"--pbkdf-force-iterations", "4", "--pbkdf-memory", "1024", "--pbkdf-parallel", "1"};

    @TempDir
    Path dir;
    Path pass;
    Path wrong;

    @BeforeEach
    void passphrases() throws Exception {
        pass = Files.writeString(dir.resolve("pass"), "correct horse battery staple");
        wrong = Files.writeString(dir.resolve("wrong"), "incorrect horse");
    }

    static Tools.Result loopdev(String... args) {
        return Tools.run(Duration.ofSeconds(120), Map.of(), LoopdevServer.command(args));
    }

    private Path image(String name, long bytes) throws Exception {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p;
    }

    private Path randomFile(String name, int bytes, long seed) throws Exception {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        return Files.write(dir.resolve(name), b);
    }

    private static String cryptsetup(Path keyFile, String... args) {
        List<String> cmd = new ArrayList<>(List.of("cryptsetup", "--batch-mode"));
        cmd.addAll(Arrays.asList(args));
        if (keyFile != null) {
            cmd.addAll(List.of("--key-file", keyFile.toString()));
        }
        return Tools.run(Duration.ofSeconds(120), Map.of(), cmd).ok().stdout();
    }

    private static boolean cryptsetupOpens(Path image, Path keyFile) {
        return Tools.run(Duration.ofSeconds(120), Map.of(), List.of("cryptsetup", "open", "--test-passphrase",
                "--key-file", keyFile.toString(), image.toString())).exitCode() == 0;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"mapped", "positional"})
    void aCryptsetupImageIsServedAndWhatNbdcopyWroteDecryptsBack(String writePath) throws Exception {
        Path img = image("img", 40L << 20);
        cryptsetup(pass, "luksFormat", "--type", "luks2", "--sector-size", "4096", "--pbkdf", "argon2id",
                "--pbkdf-force-iterations", "4", "--pbkdf-memory", "1024", img.toString());
        Path data = randomFile("data", 24 << 20, 1);
        try (LoopdevServer s = LoopdevServer.unix(dir, img, "--key-file", pass.toString(), "--write-path",
                writePath)) {
            Tools.ok("nbdcopy", data.toString(), s.uri());
            assertTrue(Tools.ok("nbdinfo", "--size", s.uri()).stdout().trim().equals(Long.toString(24L << 20)),
                    "the device is the data segment: 40 MiB less the 16 MiB header");
            Tools.ok("qemu-img", "compare", "-f", "raw", "-F", "raw", data.toString(), s.uri());
            assertTrue(s.stderr().contains("keyslot 0 unlocked"), s.stderr());
        }
        assertFalse(contains(Files.readAllBytes(img), Arrays.copyOf(Files.readAllBytes(data), 4096)),
                "no plaintext in the image");
        assertTrue(cryptsetupOpens(img, pass), "cryptsetup still opens it");
        Path back = dir.resolve("back");
        loopdev("decrypt", img.toString(), back.toString(), "--key-file", pass.toString()).ok();
        assertArrayEquals(Files.readAllBytes(data), Files.readAllBytes(back), "decrypt gives the data back");
    }

    @Test
    void whatLuksFormatMakesCryptsetupUses() throws Exception {
        Path img = image("img", 24L << 20);
        List<String> args = new ArrayList<>(List.of("luks", "format", img.toString(), "--key-file", pass.toString(),
                "--label", "backup-disk"));
        args.addAll(List.of(FAST));
        loopdev(args.toArray(String[]::new)).ok();
        String dump = cryptsetup(null, "luksDump", img.toString());
        assertTrue(dump.contains("Label:         \tbackup-disk"), dump);
        assertTrue(dump.contains("cipher: aes-xts-plain64") && dump.contains("sector: 4096 [bytes]")
                && dump.contains("PBKDF:      argon2id"), dump);
        assertTrue(cryptsetupOpens(img, pass));
        String ours = loopdev("luks", "dump", img.toString()).ok().stdout();
        assertTrue(ours.contains("Keyslots:\n  0: luks2") && ours.contains("sector: 4096 [bytes]"), ours);
        assertFalse(ours.toLowerCase().contains("mk dump"), "a dump never shows key material");
        Path second = Files.writeString(dir.resolve("second"), "second passphrase");
        List<String> add = new ArrayList<>(List.of("luks", "add-key", img.toString(), second.toString(), "--key-file",
                pass.toString()));
        add.addAll(List.of(FAST));
        loopdev(add.toArray(String[]::new)).ok();
        assertTrue(cryptsetupOpens(img, second), "cryptsetup opens the added keyslot");
        assertEquals(0, loopdev("luks", "test-passphrase", img.toString(), "--key-file", second.toString(),
                "--key-slot", "1").exitCode());
        loopdev("luks", "kill-slot", img.toString(), "0").ok();
        assertFalse(cryptsetupOpens(img, pass));
        Tools.Result last = loopdev("luks", "kill-slot", img.toString(), "1");
        assertNotEquals(0, last.exitCode());
        assertTrue(last.stderr().contains("keyslot 1 is the last one"), last.stderr());
    }

    @Test
    void aWrongOrEmptyPassphraseIsOneLineAndWritesNothing() throws Exception {
        Path img = image("img", 20L << 20);
        cryptsetup(pass, "luksFormat", "--type", "luks2", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                img.toString());
        byte[] before = sha256(img);
        Tools.Result r = loopdev("serve", img.toString(), "--key-file", wrong.toString(), "--unix",
                dir.resolve("s").toString());
        assertEquals(1, r.exitCode(), r.describe());
        assertTrue(r.stderr().strip().endsWith("loopdev: No key available with this passphrase."), r.describe());
        Path empty = Files.write(dir.resolve("empty"), new byte[0]);
        r = loopdev("luks", "test-passphrase", img.toString(), "--key-file", empty.toString());
        assertNotEquals(0, r.exitCode());
        assertTrue(r.stderr().contains("Nothing to read on input."), r.describe());
        r = Tools.run(Duration.ofSeconds(60), Map.of(), stdinCommand("\n", "luks", "test-passphrase", img.toString(),
                "--passphrase-stdin"));
        assertNotEquals(0, r.exitCode());
        assertTrue(r.stderr().contains("Nothing to read on input."), r.describe());
        assertArrayEquals(before, sha256(img), "nothing written");
    }

    /** A passphrase from standard input: {@code printf TEXT | loopdev ARGS}. */
    private static List<String> stdinCommand(String text, String... args) {
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", "printf '%s' \"$1\" | (shift; exec \"$@\")", "sh",
                text));
        cmd.addAll(LoopdevServer.command(args));
        return cmd;
    }

    @Test
    void theKeyFileOptionsReadAsCryptsetupReadsThem() throws Exception {
        Path img = image("img", 20L << 20);
        Path padded = Files.write(dir.resolve("padded"), ("XXXXcorrect horse battery stapleYYYY")
                .getBytes(StandardCharsets.UTF_8));
        cryptsetup(null, "luksFormat", "--type", "luks2", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                "--key-file", padded.toString(), "--keyfile-offset", "4", "--keyfile-size", "28", img.toString());
        assertEquals(0, loopdev("luks", "test-passphrase", img.toString(), "--key-file", padded.toString(),
                "--keyfile-offset", "4", "--keyfile-size", "28").exitCode());
        assertEquals(0, loopdev("luks", "test-passphrase", img.toString(), "--key-file", pass.toString()).exitCode(),
                "the same passphrase from a file of its own");
        Tools.Result stdin = Tools.run(Duration.ofSeconds(60), Map.of(), stdinCommand(
                "correct horse battery staple", "luks", "test-passphrase", img.toString(), "--key-file", "-"));
        assertEquals(0, stdin.exitCode(), stdin.describe());
        Tools.Result line = Tools.run(Duration.ofSeconds(60), Map.of(), stdinCommand(
                "correct horse battery staple\nmore\n", "luks", "test-passphrase", img.toString(),
                "--passphrase-stdin"));
        assertEquals(0, line.exitCode(), line.describe());
    }

    /**
     * The passphrase typed at the terminal: {@code script} gives the command a pseudo-terminal as its controlling
     * terminal, with standard output redirected as a script would have it; the prompt goes to the terminal, the
     * typing is not echoed, and format asks twice.
     */
    @Test
    void aPassphraseIsTypedAtTheTerminalWithoutEcho() throws Exception {
        Path img = image("img", 20L << 20);
        String format = String.join(" ", LoopdevServer.command("luks", "format", img.toString(), "--pbkdf",
                "pbkdf2", "--pbkdf-force-iterations", "1000")) + " > " + dir.resolve("out") + " 2>&1";
        Tools.Result r = Tools.run(Duration.ofSeconds(120), Map.of(), List.of("sh", "-c",
                "printf 'typed secret\\ntyped secret\\n' | script -qec \"$0\" /dev/null", format));
        assertEquals(0, r.exitCode(), r.describe());
        assertTrue(r.stdout().contains("Enter passphrase for " + img + ": ") && r.stdout().contains("Verify "
                + "passphrase: "), "the prompts are on the terminal\n" + r.describe());
        String typed = Files.readString(dir.resolve("out"));
        assertFalse(typed.contains("Enter passphrase"), "not on the redirected output: " + typed);
        Path typedFile = Files.writeString(dir.resolve("typed"), "typed secret");
        assertTrue(cryptsetupOpens(img, typedFile), "the typed passphrase is the keyslot's");
        r = Tools.run(Duration.ofSeconds(120), Map.of(), List.of("sh", "-c",
                "printf 'typed secret\\nmismatch\\n' | script -qec \"$0\" /dev/null",
                String.join(" ", LoopdevServer.command("luks", "format", image("img2", 20L << 20).toString(), "--pbkdf",
                        "pbkdf2", "--pbkdf-force-iterations", "1000"))));
        assertTrue(r.stdout().contains("Passphrases do not match."), r.describe());
    }

    @Test
    void optionsTheHeaderDecidesAndThingsInTheWayAreRefusedByName() throws Exception {
        Path img = image("img", 20L << 20);
        cryptsetup(pass, "luksFormat", "--type", "luks1", "--pbkdf-force-iterations", "1000", img.toString());
        byte[] before = sha256(img);
        for (String[] opt : new String[][] {{"--offset", "1M"}, {"--transform", "aes-xts-plain64"},
            {"--iv-offset", "8"}}) {
            List<String> args = new ArrayList<>(List.of("serve", img.toString(), "--key-file", pass.toString(),
                    "--unix", dir.resolve("s").toString()));
            args.addAll(List.of(opt));
            Tools.Result r = loopdev(args.toArray(String[]::new));
            assertNotEquals(0, r.exitCode());
            assertTrue(r.stderr().contains(opt[0] + " cannot be used with a LUKS image"), r.describe());
        }
        Path plain = image("plain", 8L << 20);
        Tools.Result r = loopdev("serve", plain.toString(), "--luks", "on", "--key-file", pass.toString(), "--unix",
                dir.resolve("s").toString());
        assertTrue(r.stderr().contains(plain + " is not a LUKS device"), r.describe());
        Tools.ok("mkfs.ext4", "-q", "-F", plain.toString());
        byte[] fs = sha256(plain);
        List<String> args = new ArrayList<>(List.of("luks", "format", plain.toString(), "--key-file", pass.toString()));
        args.addAll(List.of(FAST));
        r = loopdev(args.toArray(String[]::new));
        assertNotEquals(0, r.exitCode());
        assertTrue(r.stderr().contains("holds a ext4 file system"), r.describe());
        assertArrayEquals(fs, sha256(plain), "the file system is untouched");
        r = loopdev("luks", "format", img.toString(), "--key-file", pass.toString());
        assertTrue(r.stderr().contains("holds a LUKS1 header"), r.describe());
        assertArrayEquals(before, sha256(img));
    }

    @Test
    void encryptToLuks2AndDecryptBack() throws Exception {
        Path src = randomFile("src", (5 << 20) + 1000, 7); // not a whole number of sectors
        Path enc = dir.resolve("enc");
        List<String> args = new ArrayList<>(List.of("encrypt", src.toString(), enc.toString(), "--type", "luks2",
                "--key-file", pass.toString()));
        args.addAll(List.of(FAST));
        loopdev(args.toArray(String[]::new)).ok();
        assertTrue(cryptsetupOpens(enc, pass));
        assertTrue(cryptsetup(null, "luksDump", enc.toString()).contains("sector: 512 [bytes]"),
                "a size that is no multiple of 4096 gets 512-byte sectors");
        Path back = dir.resolve("back");
        loopdev("decrypt", enc.toString(), back.toString(), "--key-file", pass.toString()).ok();
        byte[] original = Files.readAllBytes(src);
        byte[] decrypted = Files.readAllBytes(back);
        assertEquals(original.length + 24, decrypted.length, "padded to whole 512-byte sectors");
        assertArrayEquals(original, Arrays.copyOf(decrypted, original.length));
        assertArrayEquals(new byte[24], Arrays.copyOfRange(decrypted, original.length, decrypted.length));
    }

    /**
     * An ext4 image encrypted in place into LUKS2 (the file grows by the header), served (and refused while a
     * conversion is unfinished), then decrypted in place again: the file system is clean and its file intact.
     */
    @Test
    void anExt4ImageIsEncryptedInPlaceAndBack() throws Exception {
        Path img = image("img", 48L << 20);
        Tools.ok("mkfs.ext4", "-q", "-F", img.toString());
        Path file = randomFile("file", 3 << 20, 11);
        Tools.ok("debugfs", "-w", "-R", "write " + file + " file", img.toString());
        byte[] plain = Files.readAllBytes(img);
        List<String> args = new ArrayList<>(List.of("encrypt", img.toString(), "--in-place", "--type", "luks2",
                "--key-file", pass.toString()));
        args.addAll(List.of(FAST));
        loopdev(args.toArray(String[]::new)).ok();
        assertEquals(64L << 20, Files.size(img));
        assertTrue(cryptsetupOpens(img, pass));
        Path copy = dir.resolve("copy");
        try (LoopdevServer s = LoopdevServer.unix(dir, img, "--key-file", pass.toString(), "--read-only")) {
            Tools.ok("nbdcopy", s.uri(), copy.toString());
        }
        Tools.ok("e2fsck", "-f", "-n", copy.toString());
        Path out = dir.resolve("out");
        Tools.ok("debugfs", "-R", "dump file " + out, copy.toString());
        assertArrayEquals(Files.readAllBytes(file), Files.readAllBytes(out));
        Files.writeString(dir.resolve("img.loopdev-luks-journal"), "pretend an interrupted run left this");
        Tools.Result r = loopdev("serve", img.toString(), "--key-file", pass.toString(), "--unix",
                dir.resolve("s2").toString());
        assertTrue(r.stderr().contains("an in-place LUKS conversion is unfinished"), r.describe());
        Files.delete(dir.resolve("img.loopdev-luks-journal"));
        loopdev("decrypt", img.toString(), "--in-place", "--key-file", pass.toString()).ok();
        assertArrayEquals(plain, Files.readAllBytes(img), "the plain image, byte for byte");
    }

    @Test
    void aHeaderBackupBringsAnImageBack() throws Exception {
        Path img = image("img", 20L << 20);
        List<String> args = new ArrayList<>(List.of("luks", "format", img.toString(), "--key-file", pass.toString()));
        args.addAll(List.of(FAST));
        loopdev(args.toArray(String[]::new)).ok();
        Path backup = dir.resolve("backup");
        loopdev("luks", "header-backup", img.toString(), "--file", backup.toString()).ok();
        assertEquals("rw-------", Tools.ok("stat", "-c", "%A", backup.toString()).stdout().trim().substring(1));
        loopdev("luks", "kill-slot", img.toString(), "0", "--force").ok();
        assertFalse(cryptsetupOpens(img, pass));
        loopdev("luks", "header-restore", img.toString(), "--file", backup.toString()).ok();
        assertTrue(cryptsetupOpens(img, pass), "the restored header opens again");
        cryptsetup(null, "luksHeaderRestore", "--header-backup-file", backup.toString(), img.toString());
        assertTrue(cryptsetupOpens(img, pass), "cryptsetup takes loopdev's backup too");
    }

    static byte[] sha256(Path p) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
    }

    static boolean contains(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i += 512) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * LUKS1 images shared with the other userspace implementations, both ways: qemu's block layer ({@code qemu-img
 * create -f luks}, {@code qemu-io} and {@code qemu-img} with {@code driver=luks}) and nbdkit's luks filter. Each
 * side writes data the other reads back byte for byte, through the header the other made, with unaligned writes
 * that make each side read-modify-write its sectors.
 */
class LuksInteropIT {
    private static final long DEVICE_BYTES = 16L << 20;
    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    @TempDir
    Path dir;
    Path pass;

    /** A cipher both qemu and loopdev can make, in each one's words, and the PBKDF2 hash. */
    enum QemuCipher {
        XTS_PLAIN64("aes-xts-plain64", 512, "sha256", "cipher-alg=aes-256,cipher-mode=xts,ivgen-alg=plain64"),
        CBC_ESSIV_SHA1("aes-cbc-essiv:sha256", 256, "sha1",
                "cipher-alg=aes-256,cipher-mode=cbc,ivgen-alg=essiv,ivgen-hash-alg=sha256");

        final String spec;
        final int keyBits;
        final String hash;
        final String qemuOptions;

        QemuCipher(String spec, int keyBits, String hash, String qemuOptions) {
            this.spec = spec;
            this.keyBits = keyBits;
            this.hash = hash;
            this.qemuOptions = qemuOptions;
        }
    }

    /** The ciphers nbdkit 1.32's luks filter knows: AES with plain or plain64 IVs (not ESSIV). */
    enum NbdkitCipher {
        XTS_PLAIN64("aes-xts-plain64", 512), CBC_PLAIN64("aes-cbc-plain64", 256);

        final String spec;
        final int keyBits;

        NbdkitCipher(String spec, int keyBits) {
            this.spec = spec;
            this.keyBits = keyBits;
        }
    }

    @BeforeAll
    static void tools() {
        Tools.require("qemu-img", "qemu-io", "nbdkit", "nbdcopy", "nbdinfo", "cryptsetup");
    }

    @BeforeEach
    void passphrase() throws Exception {
        pass = Files.writeString(dir.resolve("pass"), "shared by qemu, nbdkit and loopdev");
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(QemuCipher.class)
    void qemuMakesAndWritesLoopdevReadsAndWritesBack(QemuCipher c) throws Exception {
        Path img = dir.resolve("qemu.luks");
        qemuImgCreate(img, "key-secret=sec0,iter-time=10,hash-alg=" + c.hash + "," + c.qemuOptions);
        String dump = Tools.ok("cryptsetup", "luksDump", img.toString()).stdout();
        assertEquals(c.spec, field(dump, "Cipher name") + "-" + field(dump, "Cipher mode"), dump);
        assertEquals(c.hash, field(dump, "Hash spec"), dump);

        byte[] expected = Images.readAll(Images.random(dir, "data", DEVICE_BYTES, 11));
        Tools.ok(TIMEOUT, "qemu-img", "convert", "-n", "-f", "raw", dir.resolve("data").toString(), "--object",
                secret(), "--target-image-opts", qemuLuks(img));
        qemuIo(img, false, "write -P 0xa5 1000001 70001");
        Arrays.fill(expected, 1000001, 1000001 + 70001, (byte) 0xa5);

        try (LoopdevServer s = LoopdevServer.unix(dir, img, "--key-file", pass.toString())) {
            assertEquals(Long.toString(DEVICE_BYTES), Tools.ok("nbdinfo", "--size", s.uri()).stdout().strip(),
                    "the device is qemu's payload");
            assertReads(s.uri(), expected, "what qemu wrote, read through loopdev");
            Tools.ok(TIMEOUT, "qemu-io", "-f", "raw", s.uri(), "-c", "write -P 0x5c 7340031 9999");
            Arrays.fill(expected, 7340031, 7340031 + 9999, (byte) 0x5c);
            s.stop();
        }
        qemuIo(img, true, "read -P 0x5c 7340031 9999");
        qemuCompare(img, expected);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(QemuCipher.class)
    void loopdevMakesAndWritesQemuReadsAndWritesBack(QemuCipher c) throws Exception {
        Path img = loopdevFormat(c.spec, c.keyBits, c.hash);
        byte[] expected = Images.readAll(Images.random(dir, "data", DEVICE_BYTES, 12));
        try (LoopdevServer s = LoopdevServer.unix(dir, img, "--key-file", pass.toString())) {
            Tools.ok(TIMEOUT, "nbdcopy", dir.resolve("data").toString(), s.uri());
            s.stop();
        }
        qemuCompare(img, expected);
        qemuIo(img, false, "write -P 0x3c 4095 8193");
        Arrays.fill(expected, 4095, 4095 + 8193, (byte) 0x3c);
        try (LoopdevServer s = LoopdevServer.unix(dir, img, "--key-file", pass.toString(), "--read-only")) {
            assertReads(s.uri(), expected, "what qemu wrote into loopdev's image, read through loopdev");
            s.stop();
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(NbdkitCipher.class)
    void nbdkitLuksFilterAndLoopdevBothWays(NbdkitCipher c) throws Exception {
        Path img = loopdevFormat(c.spec, c.keyBits, "sha256");
        byte[] first = Images.readAll(Images.random(dir, "data", DEVICE_BYTES, 13));
        try (LoopdevServer s = LoopdevServer.unix(dir, img, "--key-file", pass.toString())) {
            Tools.ok(TIMEOUT, "nbdcopy", dir.resolve("data").toString(), s.uri());
            s.stop();
        }
        Path out = dir.resolve("out");
        nbdkit(img, "nbdcopy \"$uri\" " + out);
        Images.assertSameBytes(first, Images.readAll(out), "what loopdev wrote, read through nbdkit's luks filter");

        byte[] second = Images.readAll(Images.random(dir, "data2", DEVICE_BYTES, 14));
        nbdkit(img, "nbdcopy " + dir.resolve("data2") + " \"$uri\" && qemu-io -f raw \"$uri\" -c 'write -P 0x77 "
                + "12345 54321'");
        Arrays.fill(second, 12345, 12345 + 54321, (byte) 0x77);
        try (LoopdevServer s = LoopdevServer.unix(dir, img, "--key-file", pass.toString(), "--read-only")) {
            assertReads(s.uri(), second, "what nbdkit's luks filter wrote, read through loopdev");
            s.stop();
        }
        assertFalse(LuksCliIT.contains(Files.readAllBytes(img), Arrays.copyOf(second, 4096)),
                "no plaintext in the image");
    }

    /** {@code loopdev luks format --type luks1}, cheap PBKDF2, over a file with room for the header. */
    private Path loopdevFormat(String cipher, int keyBits, String hash) {
        Path img = Images.sparse(dir, "loopdev.luks", DEVICE_BYTES + (2 << 20));
        List<String> args = new ArrayList<>(List.of("luks", "format", img.toString(), "--type", "luks1", "--cipher",
                cipher, "--key-size", Integer.toString(keyBits), "--hash", hash, "--pbkdf-force-iterations", "1000",
                "--key-file", pass.toString()));
        Tools.run(TIMEOUT, Map.of(), LoopdevServer.command(args.toArray(String[]::new))).ok();
        return img;
    }

    /**
     * {@code qemu-img create -f luks}, tried up to five times when qemu's PBKDF benchmark fails with "Unable to get
     * accurate CPU usage": qemu 7.2 as Debian 12 ships it checks the CPU time of its first, short benchmark round,
     * which getrusage may not have accounted yet (qemu's own bug, fixed in 9.2.1 by "crypto: fix bogus error
     * benchmarking pbkdf on fast machines"). Any other failure fails at once.
     */
    private void qemuImgCreate(Path img, String options) {
        List<String> cmd = List.of("qemu-img", "create", "-f", "luks", "--object", secret(), "-o", options,
                img.toString(), Long.toString(DEVICE_BYTES));
        for (int attempt = 1; ; attempt++) {
            Tools.Result r = Tools.run(TIMEOUT, Map.of(), cmd);
            if (r.exitCode() == 0 || attempt == 5 || !r.stderr().contains("Unable to get accurate CPU usage")) {
                r.ok();
                return;
            }
        }
    }

    private String secret() {
        return "secret,id=sec0,file=" + pass;
    }

    private static String qemuLuks(Path img) {
        return "driver=luks,key-secret=sec0,file.filename=" + img;
    }

    /** qemu-io on the LUKS image through qemu's own LUKS driver; fails on any failed command (or pattern). */
    private void qemuIo(Path img, boolean readOnly, String command) {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "--object", secret()));
        if (readOnly) {
            cmd.add("-r");
        }
        cmd.addAll(List.of("--image-opts", qemuLuks(img), "-c", command));
        Tools.run(TIMEOUT, Map.of(), cmd).ok();
    }

    /** qemu-img compare, qemu decrypting: the payload is exactly {@code expected}. */
    private void qemuCompare(Path img, byte[] expected) {
        Path want = Images.write(dir.resolve("expected"), expected);
        Tools.ok(TIMEOUT, "qemu-img", "compare", "--object", secret(), "--image-opts",
                "driver=raw,file.filename=" + want, qemuLuks(img));
    }

    /** nbdkit's file plugin under its luks filter, on a private socket, running {@code script} against it. */
    private void nbdkit(Path img, String script) {
        Tools.ok(TIMEOUT, "nbdkit", "-U", "-", "--filter=luks", "file", img.toString(), "passphrase=+" + pass,
                "--run", script);
    }

    private void assertReads(String uri, byte[] expected, String what) {
        Path out = dir.resolve("read-back");
        Tools.ok(TIMEOUT, "nbdcopy", uri, out.toString());
        Images.assertSameBytes(expected, Images.readAll(out), what);
        Tools.ok(TIMEOUT, "qemu-img", "compare", "-f", "raw", "-F", "raw", Images.write(dir.resolve("expected"),
                expected).toString(), uri);
    }

    private static String field(String dump, String name) {
        for (String line : dump.split("\n")) {
            if (line.startsWith(name + ":")) {
                return line.substring(name.length() + 1).strip();
            }
        }
        throw new AssertionError("no " + name + " in luksDump:\n" + dump);
    }
}

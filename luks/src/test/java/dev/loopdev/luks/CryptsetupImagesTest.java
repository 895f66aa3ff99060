package dev.loopdev.luks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.loopdev.LoopDevice;
import dev.loopdev.WritePathKind;
import dev.loopdev.transforms.Oracles;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Images that cryptsetup formats open in loopdev: both LUKS versions, every KDF, sector sizes 512 and 4096, XTS,
 * ESSIV and CBC-plain64, two keyslots, a detached header, a data offset of our choosing. The data segment is filled
 * by an independent implementation (python3-cryptography, with the volume key cryptsetup dumps, laid out as its
 * luksDump says), and loopdev must read it back exactly on both write paths, and write data that the same
 * implementation decrypts.
 */
class CryptsetupImagesTest {
    private static final byte[] PASS1 = Cryptsetup.bytes("correct horse");
    private static final byte[] PASS2 = Cryptsetup.bytes("battery staple \u00e9");

    @TempDir
    Path dir;

    static Stream<Arguments> images() {
        List<Arguments> a = new ArrayList<>();
        a.add(Arguments.of("luks2 argon2id xts 512", opts("--type", "luks2", "--sector-size", "512"),
                Cryptsetup.FAST_ARGON2ID, false));
        a.add(Arguments.of("luks2 argon2id xts 4096", opts("--type", "luks2", "--sector-size", "4096"),
                Cryptsetup.FAST_ARGON2ID, false));
        a.add(Arguments.of("luks2 argon2i essiv 4096", opts("--type", "luks2", "--cipher", "aes-cbc-essiv:sha256",
                "--key-size", "256", "--sector-size", "4096"), Cryptsetup.FAST_ARGON2I, false));
        a.add(Arguments.of("luks2 pbkdf2-sha512 cbc-plain64 512", opts("--type", "luks2", "--cipher",
                "aes-cbc-plain64", "--key-size", "256", "--sector-size", "512", "--hash", "sha512"),
                Cryptsetup.FAST_PBKDF2, false));
        a.add(Arguments.of("luks2 detached header 4096", opts("--type", "luks2", "--sector-size", "4096"),
                Cryptsetup.FAST_ARGON2ID, true));
        a.add(Arguments.of("luks2 data offset 20 MiB, 2048", opts("--type", "luks2", "--offset", "40960",
                "--sector-size", "2048"), Cryptsetup.FAST_PBKDF2, false));
        a.add(Arguments.of("luks1 xts sha256", opts("--type", "luks1"), Cryptsetup.FAST_PBKDF2, false));
        a.add(Arguments.of("luks1 essiv sha1", opts("--type", "luks1", "--cipher", "aes-cbc-essiv:sha256",
                "--key-size", "256", "--hash", "sha1"), Cryptsetup.FAST_PBKDF2, false));
        a.add(Arguments.of("luks1 cbc-plain64 offset 4 MiB", opts("--type", "luks1", "--cipher", "aes-cbc-plain64",
                "--key-size", "128", "--offset", "8192"), Cryptsetup.FAST_PBKDF2, false));
        a.add(Arguments.of("luks1 detached header", opts("--type", "luks1"), Cryptsetup.FAST_PBKDF2, true));
        return a.stream();
    }

    private static List<String> opts(String... o) {
        return List.of(o);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("images")
    void opensAndReadsBackWhatAnIndependentImplementationWrote(String name, List<String> format, List<String> kdf,
                                                               boolean detached) throws Exception {
        Path image = Cryptsetup.image(dir, "img", 24L << 20);
        Path header = detached ? Cryptsetup.image(dir, "hdr", 16L << 20) : null; // cryptsetup wants room
        List<String> args = new ArrayList<>(List.of("luksFormat", "--key-file", "-"));
        args.addAll(format);
        args.addAll(kdf);
        if (header != null) {
            args.addAll(List.of("--header", header.toString()));
        }
        args.add(image.toString());
        Cryptsetup.ok(PASS1, args);
        Path pass2 = Files.write(dir.resolve("pass2"), PASS2);
        List<String> add = new ArrayList<>(List.of("luksAddKey", "--key-file", "-"));
        add.addAll(kdf);
        if (header != null) {
            add.addAll(List.of("--header", header.toString()));
        }
        add.addAll(List.of(image.toString(), pass2.toString()));
        Cryptsetup.ok(PASS1, add);

        byte[] key = Cryptsetup.volumeKey(image, header, PASS1, dir);
        Layout layout = Layout.of(Cryptsetup.ok(null, header == null ? List.of("luksDump", image.toString())
                : List.of("luksDump", header.toString())));
        Oracles oracle = new Oracles(dir);
        long dataBytes = Files.size(image) - layout.offset;
        byte[] plain = new byte[(int) dataBytes];
        new Random(name.hashCode()).nextBytes(plain);
        byte[] raw = oracle.crypt(true, layout.cipher, key, 0, plain, layout.sectorSize);
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.seek(layout.offset);
            f.write(raw);
        }

        try (LuksImage img = LuksImage.open(header == null ? image : header, false)) {
            assertEquals(List.of(), img.warnings());
            assertEquals(layout.offset, img.segment().offsetBytes());
            assertEquals(layout.sectorSize, img.segment().sectorSize());
            assertEquals(List.of(0, 1), img.activeKeyslots());
            try (VolumeKey k1 = img.unlock(PASS1, -1); VolumeKey k2 = img.unlock(PASS2, -1)) {
                assertArrayEquals(key, k1.bytes(), "the key cryptsetup dumps");
                assertArrayEquals(key, k2.bytes(), "the second keyslot holds the same key");
                assertEquals(0, k1.slot());
                assertEquals(1, k2.slot());
            }
            assertThrows(LuksException.WrongPassphrase.class, () -> img.unlock(Cryptsetup.bytes("wrong"), -1));
            assertThrows(LuksException.WrongPassphrase.class, () -> img.unlock(PASS1, 1), "slot 1 is PASS2's");
            for (WritePathKind path : List.of(WritePathKind.MAPPED, WritePathKind.POSITIONAL)) {
                try (VolumeKey k = img.unlock(PASS2, -1);
                     LoopDevice dev = LoopDevice.open(img.loopConfig(image, k).withWritePath(path))) {
                    assertEquals(dataBytes, dev.size());
                    assertEquals(layout.sectorSize, dev.blockSize());
                    ByteBuffer all = ByteBuffer.allocate((int) dataBytes);
                    dev.read(all, 0);
                    assertArrayEquals(plain, all.array(), path + ": what python wrote reads back");
                    // Write through loopdev (unaligned, so partial sectors are read, modified and written).
                    byte[] mine = new byte[70_000];
                    new Random(path.ordinal()).nextBytes(mine);
                    int at = 12_345;
                    dev.write(ByteBuffer.wrap(mine), at, false);
                    dev.flush();
                    System.arraycopy(mine, 0, plain, at, mine.length);
                }
                byte[] onDisk = Arrays.copyOfRange(Files.readAllBytes(image), (int) layout.offset,
                        (int) (layout.offset + dataBytes));
                assertArrayEquals(plain, oracle.crypt(false, layout.cipher, key, 0, onDisk, layout.sectorSize),
                        path + ": what loopdev wrote decrypts with cryptsetup's key");
            }
        }
        assertEquals(true, Cryptsetup.opens(image, header, PASS2, 1), "cryptsetup still opens it");
    }

    /** What cryptsetup's luksDump says about the data: offset, cipher, sector size. */
    record Layout(long offset, String cipher, int sectorSize) {
        static Layout of(String dump) {
            if (dump.contains("Version:       \t1")) {
                String cipher = field(dump, "Cipher name:\\s+(\\S+)") + "-" + field(dump, "Cipher mode:\\s+(\\S+)");
                return new Layout(Long.parseLong(field(dump, "Payload offset:\\s+(\\d+)")) * 512, cipher, 512);
            }
            return new Layout(Long.parseLong(field(dump, "offset: (\\d+) \\[bytes\\]")),
                    field(dump, "cipher: (\\S+)"), Integer.parseInt(field(dump, "sector: (\\d+) \\[bytes\\]")));
        }

        private static String field(String dump, String regex) {
            Matcher m = Pattern.compile(regex).matcher(dump);
            if (!m.find()) {
                throw new AssertionError("luksDump has no " + regex + ":\n" + dump);
            }
            return m.group(1);
        }
    }
}

package dev.loopdev.luks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.LoopDevice;
import dev.loopdev.transforms.Oracles;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Images loopdev formats and manages are cryptsetup's too: luksDump reads them, {@code open --test-passphrase}
 * accepts every keyslot loopdev added, cryptsetup's luksAddKey and luksKillSlot work on them and loopdev reads what
 * those did, and the data loopdev writes decrypts with the volume key cryptsetup dumps.
 */
class LoopdevImagesTest {
    static final KdfSettings FAST_PBKDF2 = new KdfSettings("pbkdf2", "sha256", 1, 1000, 32, 1);
    static final KdfSettings FAST_ARGON2ID = new KdfSettings("argon2id", "sha256", 1, 4, 32, 1);
    static final KdfSettings FAST_ARGON2I = new KdfSettings("argon2i", "sha512", 1, 4, 64, 2);
    private static final byte[] PASS1 = Cryptsetup.bytes("first passphrase");
    private static final byte[] PASS2 = Cryptsetup.bytes("second, added by loopdev");
    private static final byte[] PASS3 = Cryptsetup.bytes("third, added by cryptsetup");
    private static final byte[] PASS4 = Cryptsetup.bytes("fourth, changed by loopdev");

    @TempDir
    Path dir;

    static Stream<Arguments> formats() {
        return Stream.of(
                Arguments.of("luks2 defaults (xts-512, 4096 sectors)", new LuksFormat.Options(2, "aes-xts-plain64",
                        512, 0, FAST_ARGON2ID, null, null, 0), false),
                Arguments.of("luks2 essiv 512 pbkdf2", new LuksFormat.Options(2, "aes-cbc-essiv:sha256", 256, 512,
                        FAST_PBKDF2, "my label", "0b3ee8bb-7a0b-4a4d-8c3c-0a3e0e5e1f11", 0), false),
                Arguments.of("luks2 cbc-plain64 1024 argon2i sha512", new LuksFormat.Options(2, "aes-cbc-plain64",
                        192, 1024, FAST_ARGON2I, null, null, 0), false),
                Arguments.of("luks2 xts-256 offset 8 MiB", new LuksFormat.Options(2, "aes-xts-plain64", 256, 4096,
                        FAST_ARGON2ID, null, null, 16384), false),
                Arguments.of("luks2 detached", new LuksFormat.Options(2, "aes-xts-plain64", 512, 0,
                        FAST_ARGON2ID, null, null, 0), true),
                Arguments.of("luks1 xts", new LuksFormat.Options(1, "aes-xts-plain64", 512, 0, FAST_PBKDF2, null,
                        null, 0), false),
                Arguments.of("luks1 essiv sha1", new LuksFormat.Options(1, "aes-cbc-essiv:sha256", 256, 0,
                        FAST_PBKDF2.withHash("sha1"), null, null, 0), false),
                // (Serpent and Twofish keyslots need the kernel's ciphers or device-mapper in cryptsetup 2.6,
                // neither of which this host has: the AES modes are what it can check.)
                Arguments.of("luks1 detached cbc-plain64", new LuksFormat.Options(1, "aes-cbc-plain64", 256, 0,
                        FAST_PBKDF2, null, null, 0), true));
    }

    private static int changed(LuksFormat.Options options) {
        return options.version() == 1 ? 0 : 1;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("formats")
    void cryptsetupUsesWhatLoopdevMade(String name, LuksFormat.Options options, boolean detached) throws Exception {
        Path image = Cryptsetup.image(dir, "img", 20L << 20);
        Path header = detached ? dir.resolve("hdr") : null;
        Path headerFile = detached ? header : image;
        byte[] written = new byte[300_000];
        new Random(name.hashCode()).nextBytes(written);
        int at = 4_321;
        try (VolumeKey key = LuksFormat.format(headerFile, image, options, PASS1)) {
            try (LuksImage img = LuksImage.open(headerFile, true);
                 LoopDevice dev = LoopDevice.open(img.loopConfig(image, key))) {
                dev.write(ByteBuffer.wrap(written), at, false);
                dev.flush();
            }
        }
        String dump = Cryptsetup.ok(null, "luksDump", headerFile.toString());
        assertTrue(dump.contains("Version:       \t" + options.version()), dump);
        if (options.uuid() != null) {
            assertTrue(dump.contains(options.uuid()), dump);
        }
        if (options.label() != null) {
            assertTrue(dump.contains("Label:         \t" + options.label()), dump);
        }
        assertTrue(Cryptsetup.opens(image, header, PASS1, 0), "cryptsetup opens keyslot 0\n" + dump);

        try (LuksImage img = LuksImage.open(headerFile, true)) {
            try (VolumeKey key = img.unlock(PASS1, -1)) {
                assertEquals(1, img.addKey(key, PASS2, FAST_PBKDF2.withHash(options.kdf().hash()), -1));
            }
        }
        assertTrue(Cryptsetup.opens(image, header, PASS2, 1), "cryptsetup opens the keyslot loopdev added");

        Path pass3 = Files.write(dir.resolve("pass3"), PASS3);
        List<String> add = new ArrayList<>(List.of("luksAddKey", "--key-file", "-", "--pbkdf", "pbkdf2",
                "--pbkdf-force-iterations", "1000"));
        if (header != null) {
            add.addAll(List.of("--header", header.toString()));
        }
        add.addAll(List.of(image.toString(), pass3.toString()));
        Cryptsetup.ok(PASS2, add);
        List<String> kill = new ArrayList<>(List.of("luksKillSlot", "--key-file", "-"));
        if (header != null) {
            kill.addAll(List.of("--header", header.toString()));
        }
        kill.addAll(List.of(image.toString(), "0"));
        Cryptsetup.ok(PASS3, kill);

        byte[] cryptsetupKey = Cryptsetup.volumeKey(image, header, PASS3, dir);
        try (LuksImage img = LuksImage.open(headerFile, true)) {
            assertThrows(LuksException.WrongPassphrase.class, () -> img.unlock(PASS1, -1), "slot 0 was killed");
            try (VolumeKey k3 = img.unlock(PASS3, -1)) {
                assertEquals(2, k3.slot());
                assertArrayEquals(cryptsetupKey, k3.bytes());
            }
            // LUKS2 keeps the keyslot's number; LUKS1 moves the key to a free slot, as cryptsetup does.
            assertEquals(changed(options), img.changeKey(PASS2, PASS4, FAST_PBKDF2, -1));
        }
        assertFalse(Cryptsetup.opens(image, header, PASS2, -1), "the changed passphrase no longer opens");
        int changed = changed(options);
        assertTrue(Cryptsetup.opens(image, header, PASS4, -1), "the new passphrase opens");

        DataSegment seg;
        try (LuksImage img = LuksImage.open(headerFile, true)) {
            seg = img.segment();
            assertEquals(List.of(Math.min(changed, 2), Math.max(changed, 2)), img.activeKeyslots());
            img.killSlot(2, false);
            assertThrows(LuksException.class, () -> img.killSlot(changed, false), "the last keyslot is kept");
        }
        assertFalse(Cryptsetup.opens(image, header, PASS3, -1), "loopdev's kill-slot is seen by cryptsetup");
        assertTrue(Cryptsetup.opens(image, header, PASS4, changed));

        byte[] onDisk = Arrays.copyOfRange(Files.readAllBytes(image), (int) seg.offsetBytes() + at
                / seg.sectorSize() * seg.sectorSize(), (int) seg.offsetBytes() + 400_000);
        long firstSector = at / seg.sectorSize() * seg.sectorSize() / 512;
        byte[] plain = new Oracles(dir).crypt(false, seg.cipher(), cryptsetupKey, firstSector,
                Arrays.copyOf(onDisk, onDisk.length / seg.sectorSize() * seg.sectorSize()), seg.sectorSize());
        int skip = at % seg.sectorSize();
        assertArrayEquals(written, Arrays.copyOfRange(plain, skip, skip + written.length),
                "the data loopdev wrote decrypts with the key cryptsetup dumps");
    }
}

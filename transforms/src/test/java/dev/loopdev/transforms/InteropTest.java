package dev.loopdev.transforms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.loopdev.Transform;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Sectors encrypted by our transforms decrypt to the same plaintext with implementations no one here wrote, and
 * the reverse: openssl enc for the CBC modes, python3-cryptography for ESSIV and XTS, libgcrypt (cryptsetup's
 * own crypto backend on Debian) for Twofish and Serpent, which openssl 3 and python3-cryptography lack.
 */
class InteropTest {
    private static final int SECTORS = 5;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} {1} bits")
    @CsvSource({
        "aes-cbc-plain, 128", "aes-cbc-plain, 192", "aes-cbc-plain, 256",
        "aes-cbc-plain64, 128", "aes-cbc-plain64, 256",
        "aes-cbc-essiv:sha256, 128", "aes-cbc-essiv:sha256, 256",
        "aes-xts-plain64, 256", "aes-xts-plain64, 512", "aes-xts-plain, 256",
        "twofish-cbc-plain, 128", "twofish-cbc-plain, 256", "twofish-cbc-plain64, 256",
        "serpent-cbc-plain, 128", "serpent-cbc-plain, 192", "serpent-cbc-plain, 256",
        "twofish-cbc-essiv:sha256, 256", "serpent-cbc-essiv:sha256, 128"})
    void matchesIndependentImplementation(String spec, int keyBits) throws Exception {
        Oracles oracles = new Oracles(dir);
        Random rnd = new Random(spec.hashCode() * 31L + keyBits);
        byte[] key = bytes(rnd, keyBits / 8);
        byte[] plain = bytes(rnd, SECTORS * Transform.SECTOR_SIZE);
        // IVs straddle 2^32, where plain and plain64 part: plain keeps only the low 32 bits.
        long sector = (1L << 32) - 2;
        long ivOffset = 3;
        try (Transform t = Transforms.create(spec, key, ivOffset)) {
            byte[] ours = encode(t, plain, sector - ivOffset);
            assertArrayEquals(oracles.crypt(true, spec, key, sector, plain), ours, "encryption differs");
            byte[] theirs = oracles.crypt(true, spec, key, sector, plain);
            assertArrayEquals(plain, decode(t, theirs, sector - ivOffset), "decryption of theirs differs");
            if (spec.startsWith("aes-cbc")) {
                for (int s = 0; s < SECTORS; s++) {
                    byte[] p = Arrays.copyOfRange(plain, s * 512, s * 512 + 512);
                    byte[] c = Arrays.copyOfRange(ours, s * 512, s * 512 + 512);
                    byte[] iv = opensslIv(oracles, spec, key, sector + s);
                    String cipher = "aes-" + keyBits + "-cbc";
                    assertArrayEquals(c, oracles.openssl(true, cipher, key, iv, p), "openssl enc, sector " + s);
                    assertArrayEquals(p, oracles.openssl(false, cipher, key, iv, c), "openssl enc -d, sector " + s);
                }
            }
        }
    }

    /**
     * Sectors larger than 512 bytes (a LUKS2 segment's sector_size): one chain per sector, its IV the number of its
     * first 512-byte sector, the next sector's IV sector_size/512 further on.
     */
    @ParameterizedTest(name = "{0} {1}-byte sectors")
    @CsvSource({"aes-xts-plain64, 4096", "aes-xts-plain64, 1024", "aes-cbc-essiv:sha256, 4096",
        "aes-cbc-plain64, 2048", "serpent-cbc-plain64, 4096", "twofish-xts-plain64, 4096"})
    void largeSectorsMatchIndependentImplementation(String spec, int sectorSize) throws Exception {
        Oracles oracles = new Oracles(dir);
        Random rnd = new Random(spec.hashCode() * 7L + sectorSize);
        byte[] key = bytes(rnd, spec.contains("xts") ? 64 : 32);
        byte[] plain = bytes(rnd, 37 * sectorSize); // more than a 64 KiB chunk: IVs carry on across chunks
        long sector = 8L * 1000 + 16; // in 512-byte sectors, a multiple of the unit
        long ivOffset = -8;
        try (Transform t = Transforms.create(spec, key, ivOffset, sectorSize)) {
            byte[] ours = encode(t, plain, sector);
            assertArrayEquals(oracles.crypt(true, spec, key, sector + ivOffset, plain, sectorSize), ours,
                    "encryption differs");
            byte[] theirs = oracles.crypt(true, spec, key, sector + ivOffset, plain, sectorSize);
            assertArrayEquals(plain, decode(t, theirs, sector), "decryption of theirs differs");
        }
    }

    /** The sector's IV, the ESSIV one made by openssl too (AES-256-ECB under SHA-256 of the key). */
    private static byte[] opensslIv(Oracles o, String spec, byte[] key, long sector) throws Exception {
        ByteBuffer iv = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        if (spec.endsWith("-plain")) {
            iv.putInt((int) sector);
            return iv.array();
        }
        iv.putLong(sector);
        if (spec.endsWith("-plain64")) {
            return iv.array();
        }
        byte[] salt = MessageDigest.getInstance("SHA-256").digest(key);
        return o.openssl(true, "aes-256-ecb", salt, null, iv.array());
    }

    static byte[] encode(Transform t, byte[] plain, long sector) {
        ByteBuffer raw = ByteBuffer.allocate(plain.length);
        t.encode(ByteBuffer.wrap(plain), raw, sector);
        return raw.array();
    }

    static byte[] decode(Transform t, byte[] raw, long sector) {
        ByteBuffer plain = ByteBuffer.allocate(raw.length);
        t.decode(ByteBuffer.wrap(raw), plain, sector);
        return plain.array();
    }

    static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }
}

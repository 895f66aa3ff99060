package dev.loopdev.transforms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Passphrase hashing equals cryptsetup's crypt_plain_hash as an independent hashlib implementation computes it. */
class PlainModeKeysTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} -> {1} bytes")
    @CsvSource({
        "ripemd160, 16", "ripemd160, 32", "ripemd160, 64", "sha256, 16", "sha256, 32", "sha256, 64",
        "sha512, 32", "sha512, 64", "sha1, 32", "plain, 32", "plain, 4"})
    void matchesHashlib(String hash, int keyBytes) throws Exception {
        Oracles o = new Oracles(dir);
        for (String pass : new String[] {"", "correct horse", "pässwörd with a long tail of more than sixty-four "
                + "bytes, so the short-passphrase path is not the only one tested"}) {
            byte[] p = pass.getBytes(StandardCharsets.UTF_8);
            assertArrayEquals(o.plainHash(hash, keyBytes, p), PlainModeKeys.hashPassphrase(hash, p, keyBytes),
                    hash + " of '" + pass + "'");
        }
    }

    /** Frozen: ripemd160 over 32 bytes is digest("abc") then digest("A" + "abc"), truncated to 12 bytes. */
    @Test
    void defaultHashKnownAnswer() {
        byte[] key = PlainModeKeys.hashPassphrase(PlainModeKeys.DEFAULT_HASH, "abc".getBytes(StandardCharsets.UTF_8),
                PlainModeKeys.DEFAULT_KEY_BITS / 8);
        assertEquals("8eb208f7e05d987a9b044a8e98c6b087f15a0bfc7e368e412f739ece724fc229", HexFormat.of().formatHex(key));
    }

    @Test
    void hashLengthSuffixZeroPads() {
        byte[] key = PlainModeKeys.hashPassphrase("sha256:8", "abc".getBytes(StandardCharsets.UTF_8), 32);
        byte[] full = PlainModeKeys.hashPassphrase("sha256", "abc".getBytes(StandardCharsets.UTF_8), 32);
        for (int i = 0; i < 32; i++) {
            assertEquals(i < 8 ? full[i] : 0, key[i]);
        }
        assertThrows(IllegalArgumentException.class, () -> PlainModeKeys.hashPassphrase("sha256:33", new byte[1], 32));
        assertThrows(IllegalArgumentException.class, () -> PlainModeKeys.hashPassphrase("md4", new byte[1], 32));
    }

    @Test
    void keyFileTakesTheFirstBytesAndRefusesShortFiles() throws Exception {
        byte[] bytes = new byte[100];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i + 1);
        }
        Path f = Files.write(dir.resolve("key"), bytes);
        assertArrayEquals(java.util.Arrays.copyOf(bytes, 64), PlainModeKeys.readKeyFile(f, 64));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PlainModeKeys.readKeyFile(Files.write(dir.resolve("short"), new byte[31]), 32));
        assertEquals(true, e.getMessage().contains("has 31"));
    }
}

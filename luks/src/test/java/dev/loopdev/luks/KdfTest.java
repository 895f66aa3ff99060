package dev.loopdev.luks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Both implementations of each KDF, the system's (libcrypto, libargon2: what cryptsetup runs) and the Java
 * fallback (Bouncy Castle), against published vectors and against the {@code argon2} command-line tool.
 */
class KdfTest {
    private static final HexFormat HEX = HexFormat.of();

    @AfterEach
    void nativeBackOn() {
        NativeKdf.enabled = true;
    }

    @Test
    void theSystemLibrariesAreUsedHere() {
        assertTrue(NativeKdf.hasPbkdf2(), "libcrypto.so.3 (cryptsetup's own) loads");
        assertTrue(NativeKdf.hasArgon2(), "libargon2.so.1 (cryptsetup's own) loads");
    }

    /** RFC 6070 (PBKDF2-HMAC-SHA1) and RFC 7914 section 11 (PBKDF2-HMAC-SHA256). */
    @ParameterizedTest(name = "native={0}")
    @ValueSource(booleans = {true, false})
    void pbkdf2KnownAnswers(boolean nativeKdf) {
        NativeKdf.enabled = nativeKdf;
        assertHex("0c60c80f961f0e71f3a9b524af6012062fe037a6", new Kdf.Pbkdf2("sha1", 1), "password", "salt", 20);
        assertHex("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957", new Kdf.Pbkdf2("sha1", 2), "password", "salt", 20);
        assertHex("4b007901b765489abead49d926f721d065a429c1", new Kdf.Pbkdf2("sha1", 4096), "password", "salt", 20);
        assertHex("3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038", new Kdf.Pbkdf2("sha1", 4096),
                "passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 25);
        assertHex("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b"
                + "845b1e30bd509112041d3a19783", new Kdf.Pbkdf2("sha256", 1), "passwd", "salt", 64);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160"})
    void pbkdf2NativeAndJavaAgree(String hash) {
        Random rnd = new Random(hash.hashCode());
        for (int i = 0; i < 5; i++) {
            byte[] pass = new byte[rnd.nextInt(100)];
            byte[] salt = new byte[32];
            rnd.nextBytes(pass);
            rnd.nextBytes(salt);
            int keyBytes = 1 + rnd.nextInt(100);
            Kdf k = new Kdf.Pbkdf2(hash, 1 + rnd.nextInt(3000));
            NativeKdf.enabled = true;
            byte[] a = k.derive(pass, salt, keyBytes);
            NativeKdf.enabled = false;
            assertArrayEquals(a, k.derive(pass, salt, keyBytes), hash + " round " + i);
        }
    }

    /** The vectors of the Argon2 reference implementation's test.c (version 0x13). */
    @ParameterizedTest(name = "native={0}")
    @ValueSource(booleans = {true, false})
    void argon2KnownAnswers(boolean nativeKdf) {
        NativeKdf.enabled = nativeKdf;
        assertHex("c1628832147d9720c5bd1cfd61367078729f6dfb6f8fea9ff98158e0d7816ed0",
                new Kdf.Argon2(false, 2, 65536, 1), "password", "somesalt", 32);
        assertHex("09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7",
                new Kdf.Argon2(true, 2, 65536, 1), "password", "somesalt", 32);
    }

    /** Lanes, memory, passes and lengths as LUKS2 keyslots use them, against the argon2 tool. */
    @ParameterizedTest(name = "{0} t={1} m={2} p={3} len={4}")
    @CsvSource({"argon2id, 4, 1024, 4, 64", "argon2i, 5, 4100, 2, 32", "argon2id, 1, 64, 1, 16",
        "argon2i, 3, 8192, 3, 128"})
    void argon2MatchesTheArgon2Tool(String type, int time, int memoryKiB, int lanes, int length) throws Exception {
        String pass = "pass " + type + time;
        String salt = "0123456789abcdef0123456789abcdef";
        Kdf.Argon2 k = new Kdf.Argon2(type.equals("argon2id"), time, memoryKiB, lanes);
        byte[] tool = argon2Tool(type, pass, salt, time, memoryKiB, lanes, length);
        NativeKdf.enabled = true;
        assertArrayEquals(tool, derive(k, pass, salt, length), "libargon2");
        NativeKdf.enabled = false;
        assertArrayEquals(tool, derive(k, pass, salt, length), "Bouncy Castle");
    }

    @Test
    void argon2RefusesMemoryTheMachineCannotGive() {
        long tooMuch = Kdf.availableKiB() + (1L << 20);
        LuksException e = assertThrows(LuksException.class, () -> Kdf.checkMemory(tooMuch));
        assertTrue(e.getMessage().contains("KiB are available"), e.getMessage());
    }

    @Test
    void kdfParametersAreCheckedAsCryptsetupChecksThem() {
        assertThrows(LuksException.class, () -> new Kdf.Pbkdf2("md5", 1000));
        assertThrows(LuksException.class, () -> new Kdf.Argon2(true, 0, 1024, 1));
        assertThrows(LuksException.class, () -> new Kdf.Argon2(true, 1, 7, 1));
        assertThrows(LuksException.class, () -> new KdfSettings("pbkdf2", "sha256", 1, 999, 0, 0));
        assertThrows(LuksException.class, () -> new KdfSettings("argon2id", "sha256", 1, 3, 1024, 1));
        assertThrows(LuksException.class, () -> new KdfSettings("argon2id", "sha256", 1000, 0, 1024, 5));
        assertThrows(LuksException.class, () -> new KdfSettings("scrypt", "sha256", 1000, 0, 1024, 1));
    }

    /** Calibration lands near the time asked for (generous bounds: the host is shared and noisy). */
    @Test
    void calibrationAimsAtTheIterationTime() {
        Kdf k = new KdfSettings("argon2id", "sha256", 300, 0, 64 * 1024, 2).calibrate(64);
        long start = System.nanoTime();
        k.derive(new byte[] {1}, new byte[32], 64);
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertTrue(ms > 60 && ms < 3000, "an unlock calibrated to 300 ms took " + ms + " ms (" + k + ")");
        Kdf.Pbkdf2 p = (Kdf.Pbkdf2) new KdfSettings("pbkdf2", "sha256", 200, 0, 0, 1).calibrate(32);
        assertTrue(p.iterations() >= KdfSettings.MIN_PBKDF2_ITERATIONS, p.toString());
    }

    private static byte[] derive(Kdf k, String pass, String salt, int length) {
        return k.derive(pass.getBytes(StandardCharsets.UTF_8), salt.getBytes(StandardCharsets.UTF_8), length);
    }

    private static void assertHex(String expected, Kdf k, String pass, String salt, int length) {
        assertEquals(expected, HEX.formatHex(derive(k, pass, salt, length)), k.toString());
    }

    private static byte[] argon2Tool(String type, String pass, String salt, int time, int memoryKiB, int lanes,
                                     int length) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of("argon2", salt, type.equals("argon2id") ? "-id" : "-i", "-t",
                Integer.toString(time), "-k", Integer.toString(memoryKiB), "-p", Integer.toString(lanes), "-l",
                Integer.toString(length), "-r")).redirectErrorStream(true).start();
        p.getOutputStream().write(pass.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return HEX.parseHex(out);
    }
}

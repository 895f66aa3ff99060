package dev.loopdev.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.loopdev.transforms.PlainModeKeys;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConvertCommandTest {
    @TempDir
    Path dir;

    @Test
    void passphraseOnStdinGivesCryptsetupPlainDefaults() throws Exception {
        byte[] plain = new byte[64 * 1024];
        new Random(5).nextBytes(plain);
        Path src = Files.write(dir.resolve("plain.img"), plain);
        InputStream stdin = System.in;
        try {
            System.setIn(new ByteArrayInputStream("open sesame\nignored".getBytes(StandardCharsets.UTF_8)));
            assertEquals(0, Main.run("encrypt", src.toString(), dir.resolve("a.img").toString(), "--passphrase-stdin"));
        } finally {
            System.setIn(stdin);
        }
        // The same, from the key that cryptsetup's plain mode derives: ripemd160, 256 bits, aes-cbc-essiv:sha256.
        byte[] key = PlainModeKeys.hashPassphrase("ripemd160", "open sesame".getBytes(StandardCharsets.UTF_8), 32);
        Path keyFile = Files.write(dir.resolve("key"), key);
        assertEquals(0, Main.run("encrypt", src.toString(), dir.resolve("b.img").toString(), "--transform",
                "aes-cbc-essiv:sha256", "--key-file", keyFile.toString()));
        byte[] a = Files.readAllBytes(dir.resolve("a.img"));
        assertArrayEquals(a, Files.readAllBytes(dir.resolve("b.img")));
        assertNotEquals(Arrays.hashCode(plain), Arrays.hashCode(a));
        assertEquals(0, Main.run("decrypt", dir.resolve("a.img").toString(), dir.resolve("c.img").toString(),
                "--key-file", keyFile.toString()));
        assertArrayEquals(plain, Files.readAllBytes(dir.resolve("c.img")));
    }

    @Test
    void refusesBadArgumentsWithoutTouchingFiles() throws Exception {
        Path src = Files.write(dir.resolve("p.img"), new byte[4096]);
        Path key = Files.write(dir.resolve("key"), new byte[16]);
        // Usage errors, 2: a 16-byte key file for the default 256-bit key, no DST, a key size XTS does not take.
        assertEquals(2, Main.run("encrypt", src.toString(), dir.resolve("x").toString(), "--key-file", key.toString()));
        assertEquals(2, Main.run("encrypt", src.toString(), "--key-file", key.toString(), "--key-size", "128"));
        assertEquals(2, Main.run("encrypt", src.toString(), dir.resolve("y").toString(), "--transform",
                "aes-xts-plain64", "--key-size", "128", "--key-file", key.toString()));
        assertFalse(Files.exists(dir.resolve("x")));
        assertFalse(Files.exists(dir.resolve("y")));
        assertArrayEquals(new byte[4096], Files.readAllBytes(src));
    }
}

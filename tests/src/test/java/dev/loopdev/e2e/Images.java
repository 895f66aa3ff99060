package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;

/** Image files, keys and the XOR oracle the end-to-end tests compare against. */
public final class Images {
    /** Seeds are fixed so a failure reproduces; each caller picks its own. */
    private Images() {
    }

    /** A file of {@code size} seeded random bytes. */
    public static Path random(Path dir, String name, long size, long seed) {
        Path p = dir.resolve(name);
        byte[] chunk = new byte[1 << 20];
        Random r = new Random(seed);
        try (var out = Files.newOutputStream(p)) {
            for (long done = 0; done < size; ) {
                int n = (int) Math.min(chunk.length, size - done);
                r.nextBytes(chunk);
                out.write(chunk, 0, n);
                done += n;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    /** A sparse file of {@code size} zero bytes. */
    public static Path sparse(Path dir, String name, long size) {
        Path p = dir.resolve(name);
        try (var f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    /** A key file, readable only by its owner, as a real key file would be. */
    public static Path keyFile(Path dir, byte[] key) {
        Path p = dir.resolve("xor.key");
        try {
            Files.write(p, key);
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    /**
     * The loop driver's transfer_xor: {@code out[i] = in[i] ^ key[(i & 511) % keylen]}, with {@code i} the offset
     * in the backing file (the key restarts at every 512-byte sector). Its own inverse.
     */
    public static byte[] xor(byte[] in, long fileOffset, byte[] key) {
        byte[] out = new byte[in.length];
        for (int i = 0; i < in.length; i++) {
            long pos = fileOffset + i;
            out[i] = (byte) (in[i] ^ key[(int) ((pos & 511) % key.length)]);
        }
        return out;
    }

    public static Path write(Path p, byte[] bytes) {
        try {
            return Files.write(p, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static byte[] readAll(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static byte[] slice(byte[] b, long from, int length) {
        byte[] out = new byte[length];
        System.arraycopy(b, (int) from, out, 0, length);
        return out;
    }

    /** Fails with the first differing offset, not a 64 MiB array dump. */
    public static void assertSameBytes(byte[] expected, byte[] actual, String what) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        }
        int i = java.util.Arrays.mismatch(expected, actual);
        if (i >= 0) {
            fail(String.format("%s: first difference at byte %d: 0x%02x, expected 0x%02x", what, i,
                    actual[i] & 0xff, expected[i] & 0xff));
        }
    }
}

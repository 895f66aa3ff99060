package dev.loopdev.luks;

import java.security.DigestException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * LUKS's anti-forensic splitter (Fruhwirth's AF): a key of n bytes is stored as {@code stripes} blocks of n bytes,
 * all but the last random, the last the key XORed with the diffusion of the others, so that destroying any one
 * block of the stored material destroys the key. The diffusion hashes each hash-sized piece of the running block
 * with its index (big-endian, 32 bits) in front, the last piece truncated, exactly as cryptsetup's {@code af.c}.
 */
final class AfSplitter {
    /** The stripes every LUKS keyslot has (cryptsetup's LUKS_STRIPES; LUKS2 writes it but always uses 4000). */
    static final int STRIPES = 4000;

    private AfSplitter() {
    }

    /** Bytes of split material for a key of {@code keyBytes}, rounded up to whole 512-byte sectors. */
    static int materialBytes(int keyBytes, int stripes) {
        long n = (long) keyBytes * stripes;
        return (int) ((n + 511) / 512 * 512);
    }

    static byte[] split(byte[] key, int stripes, String hash, SecureRandom random) {
        int n = key.length;
        byte[] out = new byte[materialBytes(n, stripes)];
        byte[] block = new byte[n];
        MessageDigest md = Hashes.jdk(hash);
        try {
            for (int i = 0; i < stripes - 1; i++) {
                byte[] r = new byte[n];
                random.nextBytes(r);
                System.arraycopy(r, 0, out, i * n, n);
                xor(block, r);
                diffuse(block, md);
                Arrays.fill(r, (byte) 0);
            }
            for (int j = 0; j < n; j++) {
                out[(stripes - 1) * n + j] = (byte) (key[j] ^ block[j]);
            }
            return out;
        } finally {
            Arrays.fill(block, (byte) 0);
        }
    }

    static byte[] merge(byte[] material, int keyBytes, int stripes, String hash) {
        if (material.length < (long) keyBytes * stripes) {
            throw new IllegalArgumentException("split material is too short");
        }
        byte[] block = new byte[keyBytes];
        MessageDigest md = Hashes.jdk(hash);
        for (int i = 0; i < stripes - 1; i++) {
            for (int j = 0; j < keyBytes; j++) {
                block[j] ^= material[i * keyBytes + j];
            }
            diffuse(block, md);
        }
        for (int j = 0; j < keyBytes; j++) {
            block[j] ^= material[(stripes - 1) * keyBytes + j];
        }
        return block;
    }

    private static void xor(byte[] dst, byte[] src) {
        for (int j = 0; j < dst.length; j++) {
            dst[j] ^= src[j];
        }
    }

    /** Hashes each digest-sized piece of {@code block} (the last one shorter) with its index in front. */
    private static void diffuse(byte[] block, MessageDigest md) {
        int size = md.getDigestLength();
        byte[] d = new byte[size];
        try {
            for (int i = 0, at = 0; at < block.length; i++, at += size) {
                int len = Math.min(size, block.length - at);
                md.update(new byte[] {(byte) (i >>> 24), (byte) (i >>> 16), (byte) (i >>> 8), (byte) i});
                md.update(block, at, len);
                md.digest(d, 0, size);
                System.arraycopy(d, 0, block, at, len);
            }
        } catch (DigestException e) {
            throw new IllegalStateException(e);
        } finally {
            Arrays.fill(d, (byte) 0);
        }
    }
}

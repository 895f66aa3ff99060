package dev.loopdev;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The loop driver's {@code transfer_xor}, bit for bit: {@code out[i] = in[i] ^ key[(i & 511) % keysize]}, the key
 * restarting at every sector. It lives in the core, as it lived in loop.c: it is no cipher, only a scramble that
 * exercises the transform paths. The same function encodes and decodes.
 */
public final class XorTransform implements Transform {
    /** The loop driver's {@code LO_KEY_SIZE}. */
    public static final int MAX_KEY_BYTES = 32;

    /**
     * The key repeated over one sector as little-endian words, so a sector is XORed 8 bytes at a time with no
     * modulo per byte.
     */
    private final long[] sectorKey = new long[SECTOR_SIZE / Long.BYTES];

    public XorTransform(byte[] key) {
        if (key.length < 1 || key.length > MAX_KEY_BYTES) {
            throw new IllegalArgumentException("an xor key is 1 to " + MAX_KEY_BYTES + " bytes, not " + key.length);
        }
        ByteBuffer repeated = ByteBuffer.allocate(SECTOR_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < SECTOR_SIZE; i++) {
            repeated.put(i, key[i % key.length]);
        }
        repeated.asLongBuffer().get(sectorKey);
        Arrays.fill(repeated.array(), (byte) 0);
    }

    @Override
    public void encode(ByteBuffer plain, ByteBuffer raw, long sector) {
        xor(plain, raw);
    }

    @Override
    public void decode(ByteBuffer raw, ByteBuffer plain, long sector) {
        xor(raw, plain);
    }

    private void xor(ByteBuffer in, ByteBuffer out) {
        int n = in.remaining();
        assert n % SECTOR_SIZE == 0 && out.remaining() >= n;
        int ip = in.position();
        int op = out.position();
        ByteBuffer src = in.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer dst = out.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i += Long.BYTES) {
            dst.putLong(op + i, src.getLong(ip + i) ^ sectorKey[(i & (SECTOR_SIZE - 1)) >>> 3]);
        }
        in.position(ip + n);
        out.position(op + n);
    }

    @Override
    public String name() {
        return "xor";
    }

    @Override
    public void close() {
        Arrays.fill(sectorKey, 0L);
    }
}

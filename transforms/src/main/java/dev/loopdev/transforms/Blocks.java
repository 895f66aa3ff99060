package dev.loopdev.transforms;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** Word-at-a-time helpers over byte arrays, little-endian as the IVs and XTS tweaks are. */
final class Blocks {
    static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private Blocks() {
    }

    /** {@code dst[d..d+len) ^= src[s..s+len)}; {@code len} a multiple of 8. */
    static void xor(byte[] dst, int d, byte[] src, int s, int len) {
        for (int i = 0; i < len; i += Long.BYTES) {
            LONGS.set(dst, d + i, (long) LONGS.get(dst, d + i) ^ (long) LONGS.get(src, s + i));
        }
    }

    static long getLong(byte[] a, int off) {
        return (long) LONGS.get(a, off);
    }

    static void putLong(byte[] a, int off, long v) {
        LONGS.set(a, off, v);
    }
}

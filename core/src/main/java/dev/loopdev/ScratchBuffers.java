package dev.loopdev;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * A small pool of direct buffers for double-buffering, so a transformed write allocates nothing on the fast path.
 * Buffers are kept by power-of-two capacity; a few per size are enough for the requests in flight.
 */
final class ScratchBuffers {
    private static final int MIN_SHIFT = 12;
    private static final int MAX_POOLED_SHIFT = 25; // 32 MiB, the largest NBD payload
    private static final int KEEP_PER_SIZE = 16;

    @SuppressWarnings("unchecked")
    private final ConcurrentLinkedDeque<ByteBuffer>[] free = new ConcurrentLinkedDeque[MAX_POOLED_SHIFT + 1];

    ScratchBuffers() {
        for (int i = 0; i < free.length; i++) {
            free[i] = new ConcurrentLinkedDeque<>();
        }
    }

    /** A cleared buffer whose limit is {@code length}. */
    ByteBuffer acquire(int length) {
        int shift = shiftFor(length);
        if (shift > MAX_POOLED_SHIFT) {
            return ByteBuffer.allocateDirect(length);
        }
        ByteBuffer b = free[shift].pollFirst();
        if (b == null) {
            b = ByteBuffer.allocateDirect(1 << shift);
        }
        return b.clear().limit(length);
    }

    void release(ByteBuffer b) {
        int shift = Integer.numberOfTrailingZeros(b.capacity());
        if (b.capacity() == 1 << shift && shift >= MIN_SHIFT && shift <= MAX_POOLED_SHIFT
                && free[shift].size() < KEEP_PER_SIZE) {
            free[shift].offerFirst(b);
        }
    }

    private static int shiftFor(int length) {
        return Math.max(MIN_SHIFT, 32 - Integer.numberOfLeadingZeros(Math.max(length, 1) - 1));
    }
}

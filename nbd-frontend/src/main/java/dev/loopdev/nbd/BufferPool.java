package dev.loopdev.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Direct buffers for request payloads, in power-of-two size classes from 4 KiB to the largest request. Direct so
 * that socket and file I/O copy once; pooled because allocating direct memory costs far more than a request.
 * Lock-free; retains at most {@link #RETAINED_BYTES_MAX} bytes, beyond which returned buffers are left to the GC.
 */
final class BufferPool {
    static final long RETAINED_BYTES_MAX = 256L << 20;
    private static final int MIN_SHIFT = 12;
    private static final ByteBuffer EMPTY = ByteBuffer.allocateDirect(0);

    private final ConcurrentLinkedQueue<ByteBuffer>[] classes;
    private final AtomicLong retainedBytes = new AtomicLong();

    @SuppressWarnings("unchecked")
    BufferPool(int maxBytes) {
        int n = sizeClass(maxBytes) + 1;
        classes = new ConcurrentLinkedQueue[n];
        for (int i = 0; i < n; i++) {
            classes[i] = new ConcurrentLinkedQueue<>();
        }
    }

    /** A buffer with position 0 and limit {@code bytes}; its contents are whatever was there before. */
    ByteBuffer take(int bytes) {
        if (bytes == 0) {
            return EMPTY;
        }
        int c = sizeClass(bytes);
        ByteBuffer b = classes[c].poll();
        if (b == null) {
            b = ByteBuffer.allocateDirect(1 << (c + MIN_SHIFT));
        } else {
            retainedBytes.addAndGet(-b.capacity());
        }
        return b.clear().limit(bytes);
    }

    void give(ByteBuffer b) {
        if (b == null || b.capacity() == 0) {
            return;
        }
        if (retainedBytes.addAndGet(b.capacity()) > RETAINED_BYTES_MAX) {
            retainedBytes.addAndGet(-b.capacity());
            return;
        }
        classes[sizeClass(b.capacity())].offer(b);
    }

    private static int sizeClass(int bytes) {
        int shift = 32 - Integer.numberOfLeadingZeros(Math.max(bytes, 1 << MIN_SHIFT) - 1);
        return shift - MIN_SHIFT;
    }
}

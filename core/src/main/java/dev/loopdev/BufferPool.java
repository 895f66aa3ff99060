package dev.loopdev;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Direct buffers in power-of-two size classes from 4 KiB to a largest one: the NBD server's request payloads, and
 * the positional write path's bounce buffer when a transform is on. Direct so that socket and file I/O copy once;
 * pooled because allocating direct memory costs far more than a request. Lock-free; retains at most
 * {@link #MAX_RETAINED_BYTES} bytes, beyond which released buffers are left to the GC, and never pools a buffer
 * larger than the largest class.
 */
public final class BufferPool {
    public static final long MAX_RETAINED_BYTES = 256L << 20;
    private static final int MIN_SHIFT = 12;
    private static final int PAGE_SIZE = 4096;
    private static final ByteBuffer EMPTY = ByteBuffer.allocateDirect(0);

    private final ConcurrentLinkedQueue<ByteBuffer>[] classes;
    private final AtomicLong retainedBytes = new AtomicLong();

    /** A pool whose largest class holds {@code maxBytes}; larger buffers are allocated each time. */
    @SuppressWarnings("unchecked")
    public BufferPool(int maxBytes) {
        int n = sizeClass(maxBytes) + 1;
        classes = new ConcurrentLinkedQueue[n];
        for (int i = 0; i < n; i++) {
            classes[i] = new ConcurrentLinkedQueue<>();
        }
    }

    /** A buffer with position 0 and limit {@code bytes}; its contents are whatever was there before. */
    public ByteBuffer acquire(int bytes) {
        if (bytes == 0) {
            return EMPTY;
        }
        int c = sizeClass(bytes);
        if (c >= classes.length) {
            return ByteBuffer.allocateDirect(bytes);
        }
        ByteBuffer b = classes[c].poll();
        if (b == null) {
            b = pageAligned(1 << (c + MIN_SHIFT));
        } else {
            retainedBytes.addAndGet(-b.capacity());
        }
        return b.clear().limit(bytes);
    }

    /** Gives back a buffer {@link #acquire} returned; null is ignored. */
    public void release(ByteBuffer b) {
        if (b == null || b.capacity() == 0) {
            return;
        }
        int c = sizeClass(b.capacity());
        if (c >= classes.length || b.capacity() != 1 << (c + MIN_SHIFT)) {
            return; // not one of ours: too large to pool
        }
        if (retainedBytes.addAndGet(b.capacity()) > MAX_RETAINED_BYTES) {
            retainedBytes.addAndGet(-b.capacity());
            return;
        }
        classes[c].offer(b);
    }

    /**
     * A direct buffer of {@code bytes} that starts on a page. {@code allocateDirect} returns what malloc does, 16
     * bytes into a page for a block it maps by itself (from 128 KiB up, and at the start of a process): every
     * cache line of such a buffer straddles two, and the kernel's copies into it (a pread, a socket read) ran at
     * half the speed of copies into an aligned one (bench/README.md, "Page-aligned buffers").
     */
    static ByteBuffer pageAligned(int bytes) {
        return ByteBuffer.allocateDirect(bytes + PAGE_SIZE).alignedSlice(PAGE_SIZE).limit(bytes).slice();
    }

    private static int sizeClass(int bytes) {
        int shift = 32 - Integer.numberOfLeadingZeros(Math.max(bytes, 1 << MIN_SHIFT) - 1);
        return shift - MIN_SHIFT;
    }
}

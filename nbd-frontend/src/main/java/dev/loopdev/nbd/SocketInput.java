package dev.loopdev.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * Buffered reading of the request stream. A client with many requests queued sends headers and small payloads
 * back to back; one read of up to {@link #STAGING_BYTES} picks up several of them, where reading each exactly
 * would cost a system call per header and per payload. Payloads at least as large as the staging buffer are read
 * straight into their destination. Used by the connection's reader thread only.
 *
 * <p>Before every read that may wait for the client, {@code beforeWaiting} runs: the connection sends the replies
 * it deferred while there were requests left to read. After every read that brought bytes, {@code arrived} runs,
 * before any of them is parsed: the device hears that requests arrived ({@link dev.loopdev.BlockDevice#arrived}).
 */
final class SocketInput {
    static final int STAGING_BYTES = 64 << 10;

    private final ReadableByteChannel ch;
    private final Runnable beforeWaiting;
    private final Runnable arrived;
    private final ByteBuffer staging = ByteBuffer.allocateDirect(STAGING_BYTES).flip(); // empty, ready to drain

    SocketInput(ReadableByteChannel ch, Runnable beforeWaiting, Runnable arrived) {
        this.ch = ch;
        this.beforeWaiting = beforeWaiting;
        this.arrived = arrived;
    }

    /** When the read in progress started (System.nanoTime), 0 when none is. */
    private volatile long readingSince;

    private int read(ByteBuffer dst) throws IOException {
        beforeWaiting.run();
        readingSince = System.nanoTime() | 1; // never 0 while reading
        int n;
        try {
            n = ch.read(dst);
        } finally {
            readingSince = 0;
        }
        if (n > 0) {
            arrived.run();
        }
        return n;
    }

    /** How long the read in progress has waited for the client, in nanoseconds; 0 when none is. */
    long waitingNanos(long now) {
        long since = readingSince;
        return since == 0 ? 0 : now - since;
    }

    /** Fills {@code dst}; an end of stream before it is full is an {@link EOFException}. */
    void readFully(ByteBuffer dst) throws IOException {
        drainInto(dst);
        while (dst.hasRemaining()) {
            if (dst.remaining() >= STAGING_BYTES) {
                if (read(dst) < 0) {
                    throw new EOFException("the client closed the connection");
                }
                continue;
            }
            staging.clear();
            int n = read(staging);
            staging.flip();
            if (n < 0) {
                throw new EOFException("the client closed the connection");
            }
            drainInto(dst);
        }
    }

    /** Reads and drops {@code n} bytes (the payload of a refused WRITE). */
    void skip(long n) throws IOException {
        for (long left = n; left > 0; ) {
            if (!staging.hasRemaining()) {
                staging.clear();
                int r = read(staging);
                staging.flip();
                if (r < 0) {
                    throw new EOFException("the client closed the connection");
                }
            }
            int k = (int) Math.min(left, staging.remaining());
            staging.position(staging.position() + k);
            left -= k;
        }
    }

    private void drainInto(ByteBuffer dst) {
        int n = Math.min(staging.remaining(), dst.remaining());
        if (n > 0) {
            dst.put(dst.position(), staging, staging.position(), n);
            dst.position(dst.position() + n);
            staging.position(staging.position() + n);
        }
    }
}

package dev.loopdev;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/**
 * A range of the mapped path lent in place ({@link BlockDevice#lendForRead}, {@link BlockDevice#lendForWrite}):
 * the mapping's slices of it, and the range's lock, held until {@link #close}. For a write, whatever was stored
 * into the slices is recorded as written when the lease ends, committed or not, so that a flush finds it.
 */
final class LentPages implements BlockDevice.LentForWrite {
    /** How a committed write with FUA is made durable: the device's force of the range. */
    @FunctionalInterface
    interface Force {
        void run() throws IOException;
    }

    private final MappedPages mapped;
    private final long pos;
    private final int n;
    private final ByteBuffer[] buffers;
    private final RangeLocks.Held held;
    private final boolean forWrite;
    private final Force force;
    private boolean closed;

    LentPages(MappedPages mapped, long pos, int n, ByteBuffer[] buffers, RangeLocks.Held held, boolean forWrite,
              Force force) {
        this.mapped = mapped;
        this.pos = pos;
        this.n = n;
        this.buffers = buffers;
        this.held = held;
        this.forWrite = forWrite;
        this.force = force;
    }

    @Override
    public ByteBuffer[] buffers() {
        return buffers;
    }

    @Override
    public void commit(boolean fua) throws IOException {
        if (!forWrite || closed) {
            throw new IllegalStateException("not a live lease for writing");
        }
        mapped.written(pos, n);
        if (fua) {
            force.run();
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (forWrite) {
                mapped.written(pos, n); // whatever arrived is in the pages: a flush must find it
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e); // cannot happen: the lease's windows are mapped already
        } finally {
            held.close();
        }
    }
}

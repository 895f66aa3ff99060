package dev.loopdev;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Positional I/O through {@link java.nio.channels.FileChannel}: loop's {@code do_lo_send_direct_write} and
 * {@code do_lo_send_write}. For files that cannot be mapped, or when asked.
 *
 * <p>Untransformed writes go straight from the request's buffer. A transformed write must double-buffer: the
 * transform cannot run in place on the caller's buffer, which is the request's plaintext and may be read again
 * (a retry, a reply, a second device), so it encodes into one pooled scratch buffer per request and writes that.
 * Reads decode in place: the destination buffer is ours to fill.
 */
final class PositionalWrites implements WritePath {
    /** The largest request a bounce buffer is pooled for: NBD's largest payload. */
    private static final int MAX_POOLED_BYTES = 32 << 20;

    private final BackingFile file;
    private final BufferPool scratch;

    PositionalWrites(BackingFile file) {
        this.file = file;
        this.scratch = new BufferPool(MAX_POOLED_BYTES);
    }

    @Override
    public WritePathKind kind() {
        return WritePathKind.POSITIONAL;
    }

    @Override
    public void read(ByteBuffer dst, long pos, Transform t) throws IOException {
        int start = dst.position();
        file.readFully(dst, pos);
        if (!t.isIdentity()) {
            ByteBuffer raw = dst.duplicate().position(start);
            ByteBuffer plain = dst.duplicate().position(start);
            t.decode(raw, plain, Transform.sectorAt(pos));
        }
    }

    @Override
    public void write(ByteBuffer src, long pos, Transform t) throws IOException {
        file.checkSpans(pos, src.remaining());
        if (t.isIdentity()) {
            file.writeFully(src, pos);
            return;
        }
        int n = src.remaining();
        ByteBuffer bounce = scratch.acquire(n);
        try {
            t.encode(src, bounce, Transform.sectorAt(pos));
            bounce.flip();
            file.writeFully(bounce, pos);
        } finally {
            scratch.release(bounce);
        }
    }

    @Override
    public void force(long pos, long length) throws IOException {
        file.force(false);
    }

    @Override
    public void flush() throws IOException {
        file.force(false); // fdatasync, as for FUA: the data and the metadata it takes to read it back
    }
}

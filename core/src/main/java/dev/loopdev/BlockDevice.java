package dev.loopdev;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A block device: a fixed number of bytes, read and written at byte offsets. This is the whole contract between the
 * frontends (NBD, FUSE) and the core; decorators stack on it the way nbdkit's filters stack on a plugin.
 *
 * <p>Offsets and lengths are in bytes. Implementations do not validate requests a second time beyond asserting:
 * each frontend validates a request once, at its edge (range, flags, read-only), as nbdkit's
 * {@code validate_request} does, in the terms of its protocol. All methods are safe to call from many threads at once;
 * overlapping writes never tear a 512-byte sector.
 */
public interface BlockDevice extends Closeable {

    /** Size in bytes, fixed at attach time. */
    long size();

    /**
     * Logical block size: 512, 1024, 2048 or 4096. Requests need not be aligned to it; it is what a client should
     * prefer.
     */
    int blockSize();

    boolean isReadOnly();

    /** Fills {@code dst.remaining()} bytes from {@code offset}; on return {@code dst.position()} has advanced. */
    void read(ByteBuffer dst, long offset) throws IOException;

    /** Writes {@code src.remaining()} bytes at {@code offset}; with {@code fua} they are durable on return. */
    void write(ByteBuffer src, long offset, boolean fua) throws IOException;

    /** Makes every write that completed before this call durable (fsync). */
    void flush() throws IOException;

    /** Whether {@link #trim} can release space (false with a transform: a hole does not decode to zeros). */
    default boolean canTrim() {
        return false;
    }

    /**
     * Advisory discard: the range may afterwards read as anything. Implementations that cannot release space do
     * nothing, which the NBD spec allows.
     */
    default void trim(long offset, long length, boolean fua) throws IOException {
        checkWritable();
    }

    /**
     * Makes the range read as zeros. {@code mayTrim} allows releasing the space (punching a hole) rather than
     * allocating zeros.
     */
    default void writeZeroes(long offset, long length, boolean fua, boolean mayTrim) throws IOException {
        checkWritable();
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(length, 1 << 20));
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(zeros.capacity(), length - done);
            zeros.clear().limit(n);
            write(zeros, offset + done, false);
            done += n;
        }
        if (fua) {
            flush();
        }
    }

    /**
     * Zeroes the range only if that is cheap: a hole punched or a range zeroed by the file system, no data
     * written. Otherwise fails at once with {@link Errno#ENOTSUP}, having changed nothing, so that the caller can
     * zero some other way (NBD's FAST_ZERO: qemu-img and nbdcopy probe with it before copying).
     */
    default void writeZeroesFast(long offset, long length, boolean fua, boolean mayTrim) throws IOException {
        checkWritable();
        throw new BlockDeviceException(Errno.ENOTSUP, "zeroing this device means writing zeros");
    }

    /**
     * The allocation state of {@code [offset, offset + length)}: consecutive extents starting at {@code offset},
     * covering at least the first byte and at most the range. The default says "all data".
     */
    default java.util.List<Extent> extents(long offset, long length) throws IOException {
        return java.util.List.of(new Extent(offset, length, false, false));
    }

    /**
     * A range of the device lent in place for one request: slices of the backing file's mapping, in order, together
     * exactly the range. They are valid until {@link #close}, which gives the range back; until then no request
     * that overlaps it runs (a read lease shares its range with other reads). Must be closed on the thread that
     * borrowed it.
     */
    interface Lent extends AutoCloseable {
        ByteBuffer[] buffers();

        @Override
        void close();
    }

    /** A range lent for a WRITE's payload: the caller fills every buffer, then commits. */
    interface LentForWrite extends Lent {
        /**
         * The buffers hold the payload: the range is written, as {@link #write} would have written it, and durable
         * with {@code fua}. Closing without committing leaves the range holding whatever arrived, unacknowledged.
         */
        void commit(boolean fua) throws IOException;
    }

    /**
     * Lends {@code [offset, offset + length)} so that a READ's reply can be sent straight from the file's pages
     * (one copy, the kernel's, into the socket), held against writes until the lease is closed so that none tears
     * what is being sent. Null, having done nothing, where the bytes are not in memory as they are to be read (a
     * transform, positional I/O): the caller reads into a buffer of its own.
     */
    default Lent lendForRead(long offset, int length) throws IOException {
        return null;
    }

    /**
     * Lends {@code [offset, offset + length)} so that a WRITE's payload can be received straight into the file's
     * pages: every page is reserved before this returns, so a full file system fails here with ENOSPC before a
     * byte lands, and the range is held exclusively until the lease is closed. Null, having done nothing, where
     * the device cannot take bytes in place: a transform never lets plaintext touch the file's pages, and
     * positional I/O has no pages to lend.
     */
    default LentForWrite lendForWrite(long offset, int length) throws IOException {
        return null;
    }

    /**
     * Requests have just been read off the frontend's transport (one read of a socket may bring many). A frontend
     * that calls this after every read that may bring requests, before it acts on them, lets the device do its
     * per-request bookkeeping once per arrival instead: {@link LoopDevice} checks the backing file's size once
     * per arrival rather than once per request. Every frontend of a device must then call it; one that never calls
     * it keeps the per-request checks.
     */
    default void arrived() {
    }

    default void checkWritable() throws BlockDeviceException {
        if (isReadOnly()) {
            throw new BlockDeviceException(Errno.EPERM, "the device is read-only");
        }
    }

    @Override
    void close() throws IOException;
}

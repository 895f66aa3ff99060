package dev.loopdev;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * A file attached as a block device, as {@code losetup} attaches one: a window of the file ({@code offset},
 * {@code sizelimit}), read-only or not, seen through a {@link Transform}, written through one of two
 * {@link WritePath}s chosen at attach time.
 *
 * <p>Every request holds the range it touches (writes exclusively), so overlapping writes never tear a sector.
 * Without a transform the mapped path also lends its pages in place ({@link #lendForRead}, {@link #lendForWrite}),
 * the lease holding the range the same way. With a transform on, requests are widened to whole sectors of the
 * transform (512 bytes, or a LUKS2 image's sector size; read-modify-write under the lock) because a sector is the
 * transform's unit.
 */
public final class LoopDevice implements BlockDevice {
    private static final Logger LOG = Logger.getLogger(LoopDevice.class.getName());

    private final LoopConfig config;
    private final BackingFile file;
    private final long offset;
    private final long size;
    private final boolean readOnly;
    private final Transform transform;
    /** The transform's unit: requests are widened to whole units of it. */
    private final int unit;
    private final RangeLocks locks = new RangeLocks();
    private volatile WritePath path;
    private volatile boolean closed;

    private LoopDevice(LoopConfig config, BackingFile file, long size, WritePath path) {
        this.config = config;
        this.file = file;
        this.offset = config.offsetBytes();
        this.size = size;
        this.readOnly = config.readOnly() || !file.writable;
        this.transform = config.transform();
        this.unit = transform.sectorSize();
        this.path = path;
    }

    /** Attaches {@code config.file()}. */
    public static LoopDevice open(LoopConfig config) throws IOException {
        return open(config, MappedPages.DEFAULT_PAGE_SIZE, MappedPages.DEFAULT_WINDOW_BYTES);
    }

    /** As {@link #open(LoopConfig)}, with the mapped path's page and window sizes chosen (tests use tiny ones). */
    static LoopDevice open(LoopConfig config, int pageSize, long windowBytes) throws IOException {
        return open(config, pageSize, windowBytes, MappedPages.DEFAULT_BUDGET_BYTES);
    }

    /** ... and the bytes of windows the mapped path may map at once. */
    static LoopDevice open(LoopConfig config, int pageSize, long windowBytes, long budgetBytes) throws IOException {
        Transform t = config.transform();
        if (!t.isIdentity() && config.offsetBytes() % t.sectorSize() != 0) {
            throw new BlockDeviceException(Errno.EINVAL, "with a transform the offset must be a multiple of "
                    + t.sectorSize() + " (the transform works on whole sectors of the file)");
        }
        BackingFile file = BackingFile.open(config.file(), config.readOnly());
        try {
            long fileSize = file.size();
            if (config.offsetBytes() > fileSize) {
                throw new BlockDeviceException(Errno.EINVAL, config.file() + ": offset " + config.offsetBytes()
                        + " is beyond the end of the file (" + fileSize + " bytes)");
            }
            long size = fileSize - config.offsetBytes();
            if (config.sizeLimitBytes() > 0) {
                size = Math.min(size, config.sizeLimitBytes());
            }
            // As loop counts its size in whole sectors, we count it in whole logical blocks, and in whole units
            // of the transform (dm-crypt's sector_size).
            size -= size % Math.max(config.blockSize(), t.sectorSize());
            WritePath path = choosePath(config, file, size, pageSize, windowBytes, budgetBytes);
            LOG.fine(config.file() + ": " + size + " bytes at offset " + config.offsetBytes() + ", "
                    + path.kind().name().toLowerCase() + " write path, transform " + t.name()
                    + (config.readOnly() || !file.writable ? ", read-only" : ""));
            return new LoopDevice(config, file, size, path);
        } catch (IOException | RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private static WritePath choosePath(LoopConfig config, BackingFile file, long size, int pageSize,
                                        long windowBytes, long budgetBytes) throws IOException {
        long end = config.offsetBytes() + size;
        switch (config.writePath()) {
            case POSITIONAL:
                return new PositionalWrites(file);
            case MAPPED:
                if (size > 0 && !MappedPages.canMap(file, config.offsetBytes(), end)) {
                    throw new BlockDeviceException(Errno.ENOTSUP, config.file()
                            + " cannot be memory-mapped");
                }
                return new MappedPages(file, end, pageSize, windowBytes, budgetBytes);
            default:
                if (size > 0 && MappedPages.canMap(file, config.offsetBytes(), end)) {
                    return new MappedPages(file, end, pageSize, windowBytes, budgetBytes);
                }
                LOG.info(config.file() + " cannot be memory-mapped: using positional writes");
                return new PositionalWrites(file);
        }
    }

    public LoopConfig config() {
        return config;
    }

    /** The write path in use now (auto's choice, or positional after a mapping failure). */
    public WritePathKind writePath() {
        return path.kind();
    }

    public Path file() {
        return config.file();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int blockSize() {
        return config.blockSize();
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public boolean canTrim() {
        return !readOnly && transform.isIdentity();
    }

    @Override
    public void read(ByteBuffer dst, long devPos) throws IOException {
        int n = dst.remaining();
        assertOpenAndInRange(devPos, n);
        long pos = offset + devPos;
        if (isSectorAligned(pos, n)) {
            try (RangeLocks.Held h = locks.read(pos, n)) {
                withPath(p -> p.read(dst, pos, transform));
            }
            return;
        }
        long from = alignDown(pos);
        long to = alignUp(pos + n);
        ByteBuffer whole = ByteBuffer.allocate((int) (to - from));
        try (RangeLocks.Held h = locks.read(from, to - from)) {
            withPath(p -> p.read(whole, from, transform));
        }
        dst.put(whole.array(), (int) (pos - from), n);
    }

    @Override
    public void write(ByteBuffer src, long devPos, boolean fua) throws IOException {
        int n = src.remaining();
        assertOpenAndInRange(devPos, n);
        checkWritable();
        long pos = offset + devPos;
        if (isSectorAligned(pos, n)) {
            try (RangeLocks.Held h = locks.write(pos, n)) {
                int start = src.position();
                withPath(p -> p.write(src.position(start), pos, transform));
            }
        } else {
            // Read-modify-write of the partial sectors at either end, under one exclusive hold of the whole range.
            long from = alignDown(pos);
            long to = alignUp(pos + n);
            ByteBuffer whole = ByteBuffer.allocate((int) (to - from));
            try (RangeLocks.Held h = locks.write(from, to - from)) {
                withPath(p -> p.read(whole.clear(), from, transform));
                whole.put((int) (pos - from), src, src.position(), n);
                withPath(p -> p.write(whole.clear(), from, transform));
            }
            src.position(src.position() + n);
        }
        if (fua) {
            withPath(p -> p.force(pos, n));
        }
    }

    @Override
    public void arrived() {
        file.arrived();
    }

    @Override
    public Lent lendForRead(long devPos, int n) throws IOException {
        assertOpenAndInRange(devPos, n);
        return lend(devPos, n, false);
    }

    @Override
    public LentForWrite lendForWrite(long devPos, int n) throws IOException {
        assertOpenAndInRange(devPos, n);
        checkWritable();
        return lend(devPos, n, true);
    }

    /**
     * Lends the mapped path's pages when the bytes in them are the bytes of the request (no transform); the lock
     * is taken first and held by the lease. A mapping that cannot be made lends nothing: the caller's ordinary
     * read or write then meets the failure and degrades the device. Nor does a range beyond the mapping budget,
     * or a read of one not all backed by blocks ({@link MappedPages#lend}). The caller has checked the request.
     */
    private LentPages lend(long devPos, int n, boolean forWrite) throws IOException {
        if (!transform.isIdentity() || n == 0 || !(path instanceof MappedPages mapped)) {
            return null;
        }
        long pos = offset + devPos;
        RangeLocks.Held h = forWrite ? locks.write(pos, n) : locks.read(pos, n);
        try {
            ByteBuffer[] slices = mapped.lend(pos, n, forWrite);
            if (slices == null) {
                h.close();
                return null;
            }
            return new LentPages(mapped, pos, n, slices, h, forWrite, () -> withPath(p -> p.force(pos, n)));
        } catch (WritePath.MappingFailedException e) {
            h.close();
            return null;
        } catch (BlockDeviceException e) {
            h.close();
            throw e;
        } catch (IOException e) {
            h.close();
            throw new BlockDeviceException(BlockDeviceException.errnoOf(e), file.path + ": " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            h.close();
            throw e;
        }
    }

    @Override
    public void flush() throws IOException {
        assertOpen();
        if (!readOnly) {
            withPath(WritePath::flush);
        }
    }

    @Override
    public void trim(long devPos, long length, boolean fua) throws IOException {
        assertOpenAndInRange(devPos, length);
        checkWritable();
        if (!canTrim() || length == 0) {
            return; // advisory: with a transform a hole would not decode to zeros, so nothing is released
        }
        long pos = offset + devPos;
        try (RangeLocks.Held h = locks.write(pos, length)) {
            if (file.punchHole(pos, length)) {
                path.released(pos, length);
            }
        }
        if (fua) {
            withPath(p -> p.force(pos, length));
        }
    }

    @Override
    public void writeZeroes(long devPos, long length, boolean fua, boolean mayTrim) throws IOException {
        assertOpenAndInRange(devPos, length);
        checkWritable();
        if (length == 0 || zeroInFile(devPos, length, fua, mayTrim)) {
            return;
        }
        BlockDevice.super.writeZeroes(devPos, length, fua, mayTrim); // encoded zeros, written like any data
    }

    @Override
    public void writeZeroesFast(long devPos, long length, boolean fua, boolean mayTrim) throws IOException {
        assertOpenAndInRange(devPos, length);
        checkWritable();
        if (length > 0 && !zeroInFile(devPos, length, fua, mayTrim)) {
            throw new BlockDeviceException(Errno.ENOTSUP, transform.isIdentity()
                    ? file.path + ": the file system can neither punch holes nor zero ranges"
                    : "zeros must be encoded and written under a transform");
        }
    }

    /**
     * Zeroes the range by fallocate alone (punching a hole when allowed, else zeroing the range); false, with
     * nothing changed, when that is impossible: under a transform (a hole does not decode to zeros) or on a file
     * system that has neither mode.
     */
    private boolean zeroInFile(long devPos, long length, boolean fua, boolean mayTrim) throws IOException {
        if (!transform.isIdentity()) {
            return false;
        }
        long pos = offset + devPos;
        boolean done;
        try (RangeLocks.Held h = locks.write(pos, length)) {
            if (mayTrim && file.punchHole(pos, length)) {
                path.released(pos, length);
                done = true;
            } else {
                done = file.zeroRange(pos, length);
            }
        }
        if (done && fua) {
            withPath(p -> p.force(pos, length));
        }
        return done;
    }

    /**
     * Holes and data from the backing file (SEEK_HOLE/SEEK_DATA). With a transform on, everything is data: a hole
     * does not decode to zeros.
     */
    @Override
    public List<Extent> extents(long devPos, long length) throws IOException {
        assertOpenAndInRange(devPos, length);
        if (!transform.isIdentity() || length == 0) {
            return BlockDevice.super.extents(devPos, length);
        }
        List<Extent> out = new ArrayList<>();
        long pos = offset + devPos;
        long end = pos + length;
        // Bounded: a fragmented file yields at most this many extents per call; the caller asks again for the rest.
        while (pos < end && out.size() < 1024) {
            long data = file.nextData(pos);
            if (data < 0 || data > pos) {
                long holeEnd = data < 0 ? end : Math.min(data, end);
                out.add(new Extent(pos - offset, holeEnd - pos, true, true));
                pos = holeEnd;
            } else {
                long dataEnd = Math.min(file.nextHole(pos), end);
                out.add(new Extent(pos - offset, dataEnd - pos, false, false));
                pos = dataEnd;
            }
        }
        return out;
    }

    private interface PathOp {
        void run(WritePath p) throws IOException;
    }

    /**
     * Runs an operation on the current write path. If the mapped path cannot map the file (which it reports
     * before copying anything), degrades to positional writes for good, says so once, and runs it again.
     */
    private void withPath(PathOp op) throws IOException {
        try {
            withPathOnce(op);
        } catch (BlockDeviceException e) {
            throw e;
        } catch (IOException e) {
            // The one error type leaves the core: ENOSPC from a pwrite, EIO from anything else.
            throw new BlockDeviceException(BlockDeviceException.errnoOf(e), file.path + ": " + e.getMessage(), e);
        }
    }

    private void withPathOnce(PathOp op) throws IOException {
        WritePath p = path;
        try {
            op.run(p);
        } catch (InternalError e) {
            // A fault on a mapped page that surfaced late (JDK 17 delivers them asynchronously).
            throw new BlockDeviceException(Errno.EIO, file.path + ": I/O error on a mapped page: " + e.getMessage(), e);
        } catch (WritePath.MappingFailedException e) {
            synchronized (this) {
                if (path == p) {
                    LOG.warning(e.getMessage() + "; degrading to positional writes");
                    path = new PositionalWrites(file);
                }
            }
            op.run(path);
        }
    }

    private boolean isSectorAligned(long pos, long n) {
        return transform.isIdentity() || (pos % unit == 0 && n % unit == 0);
    }

    private long alignDown(long pos) {
        return pos - pos % unit;
    }

    private long alignUp(long pos) {
        return alignDown(pos + unit - 1);
    }

    private void assertOpen() throws BlockDeviceException {
        if (closed) {
            throw new BlockDeviceException(Errno.ESHUTDOWN, "the device is closed");
        }
    }

    private void assertOpenAndInRange(long devPos, long length) throws BlockDeviceException {
        assertOpen();
        assert devPos >= 0 && length >= 0 && devPos + length <= size
                : "unvalidated request [" + devPos + ", +" + length + ")";
    }

    /** Flushes what was written and detaches, as losetup -d does. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        try {
            flush();
        } finally {
            closed = true;
            try {
                file.close();
            } finally {
                transform.close();
            }
        }
    }
}

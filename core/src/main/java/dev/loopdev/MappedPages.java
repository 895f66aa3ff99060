package dev.loopdev;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Page-granular prepare/commit over memory-mapped pages, after the loop driver's {@code do_lo_send_aops}. The file
 * is mapped lazily in fixed {@link MappedWindow}s, as many as the budget of {@link MappedWindows} allows, and a
 * write runs in three steps:
 * <ol>
 *   <li><b>prepare</b> ({@link PagePreparation}): map the windows it touches, make sure every page's blocks exist,
 *       and make the pages present and writable, all before the first copy, so that the copy cannot fault;</li>
 *   <li><b>transfer</b>: encode straight from the request into the mapped pages, no bounce buffer;</li>
 *   <li><b>commit</b>: record the range dirty, for {@link #flush}.</li>
 * </ol>
 * Flushing is fdatasync of the file, each window's dirty range unmapped or msync'ed first (see
 * {@link MappedWindow#unmap}); FUA writes the request's range back with msync.
 *
 * <p>Two kinds of range go {@linkplain PositionalWrites positionally} instead, through the same page cache: those
 * of windows beyond the budget, and reads of pages not known to be backed by blocks. Reading a hole through a
 * shared mapping makes the file system allocate it (tmpfs keeps a zeroed page for good, where {@code pread} of a
 * hole allocates nothing), so a sparse image would fill up with what was only ever read.
 *
 * <p>A mapping that cannot be made (ENODEV from a FUSE file with direct_io, say) fails before any transfer with
 * {@link WritePath.MappingFailedException}, and the device degrades to {@link PositionalWrites}.
 */
final class MappedPages implements WritePath {
    static final int DEFAULT_PAGE_SIZE = 4096;
    static final long DEFAULT_WINDOW_BYTES = 64L << 20;
    /** Mapped windows at most, per device: an image up to this size is mapped whole. */
    static final long DEFAULT_BUDGET_BYTES = 1L << 30;

    private final BackingFile file;
    private final PageRanges windowRanges;
    private final PagePreparation preparation;
    private final MappedWindows windows;
    private final PositionalWrites positional;

    /**
     * @param end         file position where the device ends; nothing past it is ever mapped, so mapping never
     *                    grows the file
     * @param pageSize    the unit of reservation (a multiple of 512)
     * @param windowBytes the unit of mapping (a multiple of the OS page size and of {@code pageSize})
     * @param budgetBytes how many bytes of windows may be mapped at once
     */
    MappedPages(BackingFile file, long end, int pageSize, long windowBytes, long budgetBytes) {
        if (pageSize % Transform.SECTOR_SIZE != 0 || windowBytes % MappedWindow.OS_PAGE_SIZE != 0
                || windowBytes % pageSize != 0 || windowBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("page " + pageSize + ", window " + windowBytes);
        }
        this.file = file;
        this.windowRanges = new PageRanges(windowBytes);
        PageRanges pages = new PageRanges(pageSize);
        this.preparation = new PagePreparation(file, end, pages);
        this.windows = new MappedWindows(file, end, windowRanges, pages, preparation, budgetBytes);
        this.positional = new PositionalWrites(file);
    }

    /** Whether the file can be mapped at all: auto mode's probe. */
    static boolean canMap(BackingFile file, long pos, long end) {
        long start = pos - pos % MappedWindow.OS_PAGE_SIZE;
        long len = Math.min(MappedWindow.OS_PAGE_SIZE, end - start);
        if (len <= 0) {
            return false;
        }
        try {
            file.channel.map(file.writable ? FileChannel.MapMode.READ_WRITE : FileChannel.MapMode.READ_ONLY,
                    start, len);
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    @Override
    public WritePathKind kind() {
        return WritePathKind.MAPPED;
    }

    @Override
    public void write(ByteBuffer src, long pos, Transform t) throws IOException {
        int n = src.remaining();
        if (n == 0) {
            return;
        }
        file.checkSpans(pos, n);
        // Which windows are mapped is decided once, in the prepare pass: a window mapped by another request in
        // between has not been prepared for this one.
        int first = windowRanges.pageIndex(pos);
        MappedWindow[] mapped = new MappedWindow[windowRanges.pageIndex(pos + n - 1) - first + 1];
        windowRanges.forEach(pos, n, (index, at, len, done) -> {
            MappedWindow w = windows.get(index);
            if (w != null) {
                preparation.prepare(w, at, len);
            }
            mapped[index - first] = w;
        });
        try {
            windowRanges.forEach(pos, n, (index, at, len, done) -> {
                MappedWindow w = mapped[index - first];
                if (w == null) {
                    int limit = src.limit();
                    try {
                        positional.write(src.limit(src.position() + len), pos + done, t);
                    } finally {
                        src.limit(limit);
                    }
                } else {
                    transfer(src, w, at, len, pos + done, t);
                    w.commit(at, at + len);
                }
            });
        } catch (InternalError e) {
            throw faulted(pos, n, e);
        }
    }

    /**
     * The mapping's slices of {@code [pos, pos + n)}, one per window it spans, for a caller that moves the bytes
     * itself (a socket into the pages, the pages into a socket): read-only with every page brought in first, as
     * {@link #read} brings them in, or, {@code forWrite}, writable with every page prepared first, as
     * {@link #write} prepares them, so that no copy can fault. Null where the range is not all in mapped windows
     * (the budget is spent) or, for a read, not all backed by blocks (a hole is read with {@code pread}, never
     * through the mapping): the caller then reads or writes as usual. The caller holds the range, and after
     * writing into the slices calls {@link #written}.
     */
    ByteBuffer[] lend(long pos, int n, boolean forWrite) throws IOException {
        file.checkSpans(pos, n);
        int first = windowRanges.pageIndex(pos);
        MappedWindow[] mapped = new MappedWindow[windowRanges.pageIndex(pos + n - 1) - first + 1];
        boolean[] whole = {true};
        windowRanges.forEach(pos, n, (index, at, len, done) -> {
            MappedWindow w = whole[0] ? windows.get(index) : null;
            whole[0] = w != null && (forWrite || preparation.isReserved(w, at, len));
            mapped[index - first] = w;
        });
        if (!whole[0]) {
            return null;
        }
        ByteBuffer[] slices = new ByteBuffer[mapped.length];
        windowRanges.forEach(pos, n, (index, at, len, done) -> {
            MappedWindow w = mapped[index - first];
            if (forWrite) {
                preparation.prepare(w, at, len);
            } else {
                preparation.prepareRead(w, at, len);
            }
            ByteBuffer b = w.bytes.slice(at, len);
            slices[index - first] = forWrite ? b : b.asReadOnlyBuffer();
        });
        return slices;
    }

    /** Bytes were stored into lent slices of {@code [pos, pos + n)}: the commit step, for {@link #flush}. */
    void written(long pos, int n) throws IOException {
        windowRanges.forEach(pos, n, (index, at, len, done) -> windows.peek(index).commit(at, at + len));
    }

    private static void transfer(ByteBuffer src, MappedWindow w, int at, int len, long pos, Transform t) {
        if (t.isIdentity()) {
            w.bytes.put(at, src, src.position(), len);
            src.position(src.position() + len);
        } else {
            ByteBuffer plain = src.duplicate().limit(src.position() + len);
            t.encode(plain, w.bytes.duplicate().position(at).limit(at + len), Transform.sectorAt(pos));
            src.position(plain.position());
        }
    }

    @Override
    public void read(ByteBuffer dst, long pos, Transform t) throws IOException {
        int n = dst.remaining();
        file.checkSpans(pos, n);
        try {
            windowRanges.forEach(pos, n, (index, at, len, done) -> {
                MappedWindow w = windows.get(index);
                if (w == null || !preparation.isReserved(w, at, len)) {
                    positional.read(dst.duplicate().limit(dst.position() + len), pos + done, t);
                    dst.position(dst.position() + len);
                    return;
                }
                preparation.prepareRead(w, at, len);
                if (t.isIdentity()) {
                    dst.put(dst.position(), w.bytes, at, len);
                } else {
                    t.decode(w.bytes.duplicate().position(at).limit(at + len),
                            dst.duplicate().limit(dst.position() + len), Transform.sectorAt(pos + done));
                }
                dst.position(dst.position() + len);
            });
        } catch (InternalError e) {
            throw faulted(pos, n, e);
        }
    }

    /** A fault on a mapped page: the file shrank underneath us, or the disk failed. Never a crash: EIO. */
    private BlockDeviceException faulted(long pos, long length, InternalError e) {
        String why;
        try {
            long size = file.size();
            why = size < pos + length ? "the backing file shrank to " + size + " bytes underneath the device"
                    : "I/O error on a mapped page";
        } catch (IOException ioe) {
            why = "I/O error on a mapped page (" + ioe.getMessage() + ")";
        }
        return new BlockDeviceException(Errno.EIO, file.path + " [" + pos + ", +" + length + "): " + why, e);
    }

    /** FUA: msync of the range where it is mapped, fdatasync of the file if any of it is not. */
    @Override
    public void force(long pos, long length) throws IOException {
        boolean[] unmapped = {false};
        try {
            windowRanges.forEach(pos, length, (index, at, len, done) -> {
                MappedWindow w = windows.peek(index);
                if (w == null) {
                    unmapped[0] = true;
                } else {
                    w.writeBack(at, len);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        if (unmapped[0]) {
            positional.force(pos, length);
        }
    }

    @Override
    public void flush() throws IOException {
        try {
            windows.forEach(MappedWindow::forceDirty);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        file.force(false); // fdatasync: the data and what it takes to read it back, as nbdkit's file plugin
    }

    @Override
    public void released(long pos, long length) {
        // A punched hole takes the blocks and, with the pages, their page-table entries. Windows never mapped
        // know nothing to forget.
        windowRanges.forEach(pos, length, (index, at, len, done) -> {
            MappedWindow w = windows.peek(index);
            if (w != null) {
                preparation.released(w, at, len);
            }
        });
    }
}

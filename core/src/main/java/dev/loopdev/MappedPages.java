package dev.loopdev;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Page-granular prepare/commit over memory-mapped pages, after the loop driver's {@code do_lo_send_aops}. The file
 * is mapped lazily in fixed {@link MappedWindow}s, and a write runs in three steps:
 * <ol>
 *   <li><b>prepare</b> ({@link PagePreparation}): map the windows it touches, make sure every page's blocks exist,
 *       and make the pages present and writable, all before the first copy, so that the copy cannot fault;</li>
 *   <li><b>transfer</b>: encode straight from the request into the mapped pages, no bounce buffer;</li>
 *   <li><b>commit</b>: record the range dirty, for {@link #flush}.</li>
 * </ol>
 * Flushing is fdatasync of the file, each window's dirty range unmapped or msync'ed first (see
 * {@link MappedWindow#unmap}); FUA writes the request's range back with msync.
 *
 * <p>A mapping that cannot be made (ENODEV from a FUSE file with direct_io, say) fails before any transfer with
 * {@link WritePath.MappingFailedException}, and the device degrades to {@link PositionalWrites}.
 */
final class MappedPages implements WritePath {
    static final int DEFAULT_PAGE_SIZE = 4096;
    static final long DEFAULT_WINDOW_BYTES = 1L << 30;

    private final BackingFile file;
    private final long end;
    private final PageRanges windowRanges;
    private final PageRanges pages;
    private final PagePreparation preparation;
    private final AtomicReferenceArray<MappedWindow> windows;
    private final AtomicBoolean canUnmap = new AtomicBoolean(true);

    @FunctionalInterface
    private interface WindowRangeConsumer {
        void accept(MappedWindow w, int at, int len, long done) throws IOException;
    }

    /**
     * @param end         file position where the device ends; nothing past it is ever mapped, so mapping never
     *                    grows the file
     * @param pageSize    the unit of reservation (a multiple of 512)
     * @param windowBytes the unit of mapping (a multiple of the OS page size and of {@code pageSize})
     */
    MappedPages(BackingFile file, long end, int pageSize, long windowBytes) {
        if (pageSize % Transform.SECTOR_SIZE != 0 || windowBytes % MappedWindow.OS_PAGE_SIZE != 0
                || windowBytes % pageSize != 0 || windowBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("page " + pageSize + ", window " + windowBytes);
        }
        this.file = file;
        this.end = end;
        this.windowRanges = new PageRanges(windowBytes);
        this.pages = new PageRanges(pageSize);
        this.preparation = new PagePreparation(file, end, pages);
        this.windows = new AtomicReferenceArray<>(windowRanges.pageCount(end));
    }

    /** Whether the file can be mapped at all: auto mode's probe. */
    static boolean canMap(BackingFile file, long pos, long end) {
        long start = pos - pos % MappedWindow.OS_PAGE_SIZE;
        long len = Math.min(MappedWindow.OS_PAGE_SIZE, end - start);
        if (len <= 0) {
            return false;
        }
        try {
            file.channel.map(mapMode(file), start, len);
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    private static FileChannel.MapMode mapMode(BackingFile file) {
        return file.writable ? FileChannel.MapMode.READ_WRITE : FileChannel.MapMode.READ_ONLY;
    }

    @Override
    public WritePathKind kind() {
        return WritePathKind.MAPPED;
    }

    /** Window {@code index}, mapped on first use. */
    private MappedWindow window(int index) throws MappingFailedException {
        MappedWindow w = windows.get(index);
        if (w != null) {
            return w;
        }
        synchronized (windows) {
            w = windows.get(index);
            if (w == null) {
                long start = windowRanges.pageStart(index);
                long len = Math.min(windowRanges.pageSize(), end - start);
                MappedByteBuffer bytes;
                try {
                    bytes = file.channel.map(mapMode(file), start, len);
                } catch (IOException | UnsupportedOperationException e) {
                    throw new MappingFailedException(file.path + ": cannot map [" + start + ", +" + len + "): "
                            + e.getMessage(), e);
                }
                w = new MappedWindow(file, start, bytes, pages.pageCount(len), canUnmap);
                if (file.writable) {
                    preparation.markAllocated(w);
                }
                windows.set(index, w);
            }
            return w;
        }
    }

    /** Calls {@code f} for each window's part of {@code [pos, pos + length)}, mapping windows as needed. */
    private void forEachWindow(long pos, long length, WindowRangeConsumer f) throws IOException {
        windowRanges.forEach(pos, length, (index, at, len, done) -> f.accept(window(index), at, len, done));
    }

    @Override
    public void write(ByteBuffer src, long pos, Transform t) throws IOException {
        int n = src.remaining();
        file.checkSpans(pos, n);
        forEachWindow(pos, n, (w, at, len, done) -> preparation.prepare(w, at, len));
        try {
            forEachWindow(pos, n, (w, at, len, done) -> {
                transfer(src, w, at, len, pos + done, t);
                w.commit(at, at + len);
            });
        } catch (InternalError e) {
            throw faulted(pos, n, e);
        }
    }

    private static void transfer(ByteBuffer src, MappedWindow w, int at, int len, long pos, Transform t) {
        if (t.isIdentity()) {
            w.bytes.put(at, src, src.position(), len);
            src.position(src.position() + len);
        } else {
            ByteBuffer plain = src.duplicate().limit(src.position() + len);
            t.encode(plain, w.bytes.duplicate().position(at).limit(at + len), pos / Transform.SECTOR_SIZE);
            src.position(plain.position());
        }
    }

    @Override
    public void read(ByteBuffer dst, long pos, Transform t) throws IOException {
        int n = dst.remaining();
        file.checkSpans(pos, n);
        try {
            forEachWindow(pos, n, (w, at, len, done) -> {
                if (t.isIdentity()) {
                    dst.put(dst.position(), w.bytes, at, len);
                    dst.position(dst.position() + len);
                } else {
                    ByteBuffer plain = dst.duplicate().limit(dst.position() + len);
                    t.decode(w.bytes.duplicate().position(at).limit(at + len), plain,
                            (pos + done) / Transform.SECTOR_SIZE);
                    dst.position(plain.position());
                }
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

    @Override
    public void force(long pos, long length) throws IOException {
        try {
            forEachWindow(pos, length, (w, at, len, done) -> w.writeBack(at, len));
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    @Override
    public void flush() throws IOException {
        try {
            for (int i = 0; i < windows.length(); i++) {
                MappedWindow w = windows.get(i);
                if (w != null) {
                    w.forceDirty();
                }
            }
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
            MappedWindow w = windows.get(index);
            if (w != null) {
                preparation.released(w, at, len);
            }
        });
    }
}

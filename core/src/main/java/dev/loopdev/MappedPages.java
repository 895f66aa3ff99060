package dev.loopdev;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Page-granular prepare/commit over memory-mapped pages, after the loop driver's {@code do_lo_send_aops}.
 *
 * <p>The file is mapped lazily in fixed windows. A write runs in three steps:
 * <ol>
 *   <li><b>prepare</b>: map the windows it touches and make sure every page's blocks exist, reserving the pages
 *       that are not yet known to be reserved in one fallocate per run. This is the whole reason for the step: a
 *       store through a mapping into a hole of a full file system raises SIGBUS, which the JVM turns into an
 *       {@link InternalError} that on JDK 17 may surface only after later stores were silently dropped. Reserving
 *       first makes that impossible and reports ENOSPC before a single byte is copied (the iomap order of seed
 *       000: map, reserve, copy).</li>
 *   <li><b>transfer</b>: encode straight from the request into the mapped pages, no bounce buffer.</li>
 *   <li><b>commit</b>: record the range dirty, for {@link #flush}.</li>
 * </ol>
 * A mapping that cannot be made (ENODEV from a FUSE file with direct_io, say) fails before any transfer with
 * {@link WritePath.MappingFailedException}, and the device degrades to {@link PositionalWrites}.
 */
final class MappedPages implements WritePath {
    static final int DEFAULT_PAGE_SIZE = 4096;
    static final long DEFAULT_WINDOW_BYTES = 1L << 30;

    private final BackingFile file;
    private final long end;
    private final int pageSize;
    private final long windowBytes;
    private final int pagesPerWindow;
    private final AtomicReferenceArray<Window> windows;

    /**
     * @param end         file position where the device ends; nothing past it is ever mapped, so mapping never
     *                    grows the file
     * @param pageSize    the unit of reservation (a multiple of 512)
     * @param windowBytes the unit of mapping (a multiple of the OS page size and of {@code pageSize})
     */
    MappedPages(BackingFile file, long end, int pageSize, long windowBytes) {
        if (pageSize % Transform.SECTOR_SIZE != 0 || windowBytes % 4096 != 0 || windowBytes % pageSize != 0
                || windowBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("page " + pageSize + ", window " + windowBytes);
        }
        this.file = file;
        this.end = end;
        this.pageSize = pageSize;
        this.windowBytes = windowBytes;
        this.pagesPerWindow = (int) (windowBytes / pageSize);
        this.windows = new AtomicReferenceArray<>((int) ((end + windowBytes - 1) / windowBytes));
    }

    /** Whether the file can be mapped at all: auto mode's probe. */
    static boolean canMap(BackingFile file, long pos, long end) {
        long start = pos - pos % 4096;
        long len = Math.min(4096, end - start);
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

    /** One mapped window: its bytes, which of its pages are reserved, and what of it is dirty. */
    private final class Window {
        final long start;
        final MappedByteBuffer pages;
        final AtomicLongArray reserved;
        private long dirtyFrom = Long.MAX_VALUE;
        private long dirtyTo = -1;

        Window(long start, MappedByteBuffer pages) {
            this.start = start;
            this.pages = pages;
            this.reserved = new AtomicLongArray((pagesPerWindow + 63) / 64);
        }

        boolean isReserved(int page) {
            return (reserved.get(page >>> 6) & (1L << page)) != 0;
        }

        void setReserved(int page, boolean on) {
            long bit = 1L << page;
            if (on) {
                reserved.getAndAccumulate(page >>> 6, bit, (a, b) -> a | b);
            } else {
                reserved.getAndAccumulate(page >>> 6, ~bit, (a, b) -> a & b);
            }
        }

        synchronized void commit(int from, int to) {
            dirtyFrom = Math.min(dirtyFrom, from);
            dirtyTo = Math.max(dirtyTo, to);
        }

        void forceDirty() {
            long from;
            long to;
            synchronized (this) {
                from = dirtyFrom;
                to = dirtyTo;
                dirtyFrom = Long.MAX_VALUE;
                dirtyTo = -1;
            }
            if (to > from) {
                pages.force((int) from, (int) (to - from));
            }
        }
    }

    private Window window(long pos) throws MappingFailedException {
        int i = (int) (pos / windowBytes);
        Window w = windows.get(i);
        if (w != null) {
            return w;
        }
        synchronized (windows) {
            w = windows.get(i);
            if (w == null) {
                long start = i * windowBytes;
                long len = Math.min(windowBytes, end - start);
                try {
                    MappedByteBuffer mbb = file.channel.map(file.writable
                            ? FileChannel.MapMode.READ_WRITE : FileChannel.MapMode.READ_ONLY, start, len);
                    w = new Window(start, mbb);
                } catch (IOException | UnsupportedOperationException e) {
                    throw new MappingFailedException(file.path + ": cannot map [" + start + ", +" + len + "): "
                            + e.getMessage(), e);
                }
                windows.set(i, w);
            }
            return w;
        }
    }

    @Override
    public void write(ByteBuffer src, long pos, Transform t) throws IOException {
        int n = src.remaining();
        prepare(pos, n);
        try {
            for (long done = 0; done < n; ) {
                Window w = window(pos + done);
                int at = (int) (pos + done - w.start);
                int len = (int) Math.min(n - done, w.pages.limit() - at);
                transfer(src, w, at, len, pos + done, t);
                w.commit(at, at + len);
                done += len;
            }
        } catch (InternalError e) {
            throw faulted(pos, n, e);
        }
    }

    /** Maps and reserves every page of the range; nothing has been copied when this throws. */
    private void prepare(long pos, long length) throws IOException {
        file.checkSpans(pos, length);
        for (long done = 0; done < length; ) {
            Window w = window(pos + done);
            long upto = Math.min(pos + length, w.start + w.pages.limit());
            reserve(w, pos + done, upto - (pos + done));
            done = upto - pos;
        }
    }

    private void reserve(Window w, long pos, long length) throws IOException {
        long[] run = {-1, -1}; // first and last page index (in the window) of a run of unreserved pages
        PageRanges.forEach(pos - w.start, length, pageSize, (page, from, size, done) -> {
            int p = (int) page;
            if (w.isReserved(p)) {
                flushRun(w, run);
            } else {
                if (run[0] < 0) {
                    run[0] = p;
                }
                run[1] = p;
            }
        });
        flushRun(w, run);
    }

    private void flushRun(Window w, long[] run) throws IOException {
        if (run[0] < 0) {
            return;
        }
        long from = w.start + run[0] * pageSize;
        long to = Math.min(w.start + (run[1] + 1) * pageSize, end);
        file.reserve(from, to - from);
        for (long p = run[0]; p <= run[1]; p++) {
            w.setReserved((int) p, true);
        }
        run[0] = -1;
        run[1] = -1;
    }

    private void transfer(ByteBuffer src, Window w, int at, int len, long pos, Transform t) {
        if (t.isIdentity()) {
            w.pages.put(at, src, src.position(), len);
            src.position(src.position() + len);
        } else {
            ByteBuffer plain = src.duplicate().limit(src.position() + len);
            t.encode(plain, w.pages.duplicate().position(at).limit(at + len), pos / Transform.SECTOR_SIZE);
            src.position(plain.position());
        }
    }

    @Override
    public void read(ByteBuffer dst, long pos, Transform t) throws IOException {
        int n = dst.remaining();
        file.checkSpans(pos, n);
        try {
            for (long done = 0; done < n; ) {
                Window w = window(pos + done);
                int at = (int) (pos + done - w.start);
                int len = (int) Math.min(n - done, w.pages.limit() - at);
                if (t.isIdentity()) {
                    dst.put(dst.position(), w.pages, at, len);
                    dst.position(dst.position() + len);
                } else {
                    ByteBuffer plain = dst.duplicate().limit(dst.position() + len);
                    t.decode(w.pages.duplicate().position(at).limit(at + len), plain,
                            (pos + done) / Transform.SECTOR_SIZE);
                    dst.position(plain.position());
                }
                done += len;
            }
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
            for (long done = 0; done < length; ) {
                Window w = window(pos + done);
                int at = (int) (pos + done - w.start);
                int len = (int) Math.min(length - done, w.pages.limit() - at);
                w.pages.force(at, len);
                done += len;
            }
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
    }

    @Override
    public void flush() throws IOException {
        try {
            for (int i = 0; i < windows.length(); i++) {
                Window w = windows.get(i);
                if (w != null) {
                    w.forceDirty();
                }
            }
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
        file.force(true);
    }

    @Override
    public void released(long pos, long length) {
        if (length <= 0) {
            return;
        }
        for (long p = pos / pageSize; p <= (pos + length - 1) / pageSize; p++) {
            long filePos = p * pageSize;
            Window w = windows.get((int) (filePos / windowBytes));
            if (w != null) {
                w.setReserved((int) ((filePos - w.start) / pageSize), false);
            }
        }
    }
}

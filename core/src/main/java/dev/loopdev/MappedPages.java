package dev.loopdev;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.logging.Logger;

/**
 * Page-granular prepare/commit over memory-mapped pages, after the loop driver's {@code do_lo_send_aops}.
 *
 * <p>The file is mapped lazily in fixed windows. A write runs in three steps:
 * <ol>
 *   <li><b>prepare</b>: map the windows it touches, make sure every page's blocks exist, and make the pages
 *       present and writable in our page tables before the first copy into them. Blocks: the pages not yet known
 *       to be reserved get one fallocate per run. This is the reason for the step: a store through a mapping into a
 *       hole of a full file system raises SIGBUS, which the JVM turns into an {@link InternalError} that on JDK 17
 *       may surface only after later stores were silently dropped. Reserving first makes that impossible and
 *       reports ENOSPC before a single byte is copied (the iomap order of seed 000: map, reserve, copy). Page
 *       tables: pages never written before get one {@code madvise(MADV_POPULATE_WRITE)} per run, which does in
 *       one system call what the copy would otherwise do in a write fault per page (what prepare_write did for the
 *       loop driver: the page is in the cache before the copy).</li>
 *   <li><b>transfer</b>: encode straight from the request into the mapped pages, no bounce buffer.</li>
 *   <li><b>commit</b>: record the range dirty, for {@link #flush}.</li>
 * </ol>
 * Flushing is fdatasync of the file. Where writeback write-protects pages (any file system with a backing store;
 * not tmpfs) it first drops the dirty ranges' page-table entries, so that writeback has no mapping to write-protect
 * and the next copy faults each folio back in whole instead of taking a fault per 4 KiB page; elsewhere the dirty
 * ranges are msync'ed first, as a mapping demands.
 *
 * <p>A mapping that cannot be made (ENODEV from a FUSE file with direct_io, say) fails before any transfer with
 * {@link WritePath.MappingFailedException}, and the device degrades to {@link PositionalWrites}.
 */
final class MappedPages implements WritePath {
    static final int DEFAULT_PAGE_SIZE = 4096;
    static final long DEFAULT_WINDOW_BYTES = 1L << 30;
    private static final Logger LOG = Logger.getLogger(MappedPages.class.getName());
    private static final int OS_PAGE = 4096;
    private static final int EXTENTS_SCANNED_MAX = 4096;

    private final BackingFile file;
    private final long end;
    private final int pageSize;
    private final long windowBytes;
    private final int pagesPerWindow;
    private final AtomicReferenceArray<Window> windows;
    private volatile boolean canUnmap = true;
    private volatile boolean canPopulate = true;

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

    /**
     * One mapped window: its bytes, which of its pages are reserved (their blocks exist) and which were ever
     * populated for writing, and what of it is dirty.
     */
    private final class Window {
        final long start;
        final MappedByteBuffer pages;
        final Pointer address;
        final PageBits reserved = new PageBits(pagesPerWindow);
        final PageBits populated = new PageBits(pagesPerWindow);
        private long dirtyFrom = Long.MAX_VALUE;
        private long dirtyTo = -1;

        Window(long start, MappedByteBuffer pages) {
            this.start = start;
            this.pages = pages;
            this.address = Native.getDirectBufferPointer(pages);
        }

        synchronized void commit(int from, int to) {
            dirtyFrom = Math.min(dirtyFrom, from);
            dirtyTo = Math.max(dirtyTo, to);
        }

        /**
         * Takes the dirty range for a flush and unmaps it (see {@link #unmap}); what could not be unmapped is
         * written back here (msync), the rest by the flush's fdatasync.
         */
        void forceDirty() {
            long from;
            long to;
            synchronized (this) {
                from = dirtyFrom;
                to = dirtyTo;
                dirtyFrom = Long.MAX_VALUE;
                dirtyTo = -1;
            }
            if (to > from && !unmap((int) from, (int) (to - from))) {
                pages.force((int) from, (int) (to - from));
            }
        }

        /** FUA: unmaps {@code [at, at + len)} where that pays, then writes it back (msync MS_SYNC). */
        void writeBack(int at, int len) {
            unmap(at, len);
            pages.force(at, len);
        }

        /**
         * Where writeback write-protects pages (every file system with a backing store; not tmpfs), drops the
         * range's page-table entries before it is written back (MADV_DONTNEED: on a shared file mapping the pages
         * stay in the page cache, and a dirty entry hands its dirt to the page, so the file's own fdatasync then
         * writes it). Two costs go away with them:
         * <ul>
         *   <li>writeback write-protects each mapped page, and with our threads on both CPUs every one of those
         *       is a TLB shootdown (an IPI: 50 ms per GiB written back, measured on this 2-vCPU VM);</li>
         *   <li>left mapped, every later store into a written-back page takes a write fault per 4 KiB page, and on
         *       a file system with large folios (ext4 on Linux 6.18 here) each of those re-runs page_mkwrite for
         *       the whole folio: rewriting a written-back 1 GiB mapping with 128 KiB copies ran at 0.76 GB/s,
         *       against 11 GB/s once the entries are gone and the copy faults each folio back in whole.</li>
         * </ul>
         * Returns whether the entries are gone.
         */
        boolean unmap(int at, int len) {
            int from = at & -OS_PAGE;
            long to = Math.min(roundUp((long) at + len), roundUp(pages.limit()));
            if (!file.writebackWriteProtects || !canUnmap || to <= from) {
                return false;
            }
            try {
                Posix.madvise(address.share(from), to - from, Posix.MADV_DONTNEED);
                return true;
            } catch (LastErrorException e) {
                canUnmap = false;
                LOG.info(file.path + ": madvise(MADV_DONTNEED) failed (" + Posix.strerror(e.getErrorCode())
                        + "); written-back pages stay mapped");
                return false;
            }
        }
    }

    private static long roundUp(long pos) {
        return (pos + OS_PAGE - 1) & -OS_PAGE;
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
                    if (file.writable) {
                        try {
                            markAllocated(w);
                        } catch (IOException e) {
                            LOG.fine(() -> file.path + ": no extent map (" + e.getMessage() + "); prepare reserves");
                        }
                    }
                } catch (IOException | UnsupportedOperationException e) {
                    throw new MappingFailedException(file.path + ": cannot map [" + start + ", +" + len + "): "
                            + e.getMessage(), e);
                }
                windows.set(i, w);
            }
            return w;
        }
    }

    /**
     * Marks the window's pages that lie wholly inside the file's data extents (SEEK_DATA/SEEK_HOLE) reserved: their
     * blocks exist, so the first write to each needs no fallocate of its own. A fully allocated image costs two
     * lseeks per window; a fragmented one stops after {@link #EXTENTS_SCANNED_MAX} extents and leaves the rest to
     * prepare.
     */
    private void markAllocated(Window w) throws IOException {
        long pos = w.start;
        long limit = w.start + w.pages.limit();
        for (int extents = 0; pos < limit && extents < EXTENTS_SCANNED_MAX; extents++) {
            long data = file.nextData(pos);
            if (data < 0 || data >= limit) {
                return;
            }
            long hole = Math.min(file.nextHole(data), limit);
            long first = (data - w.start + pageSize - 1) / pageSize;
            long last = (hole - w.start) / pageSize - 1; // the last page wholly before the hole
            if (hole == end) {
                last = (hole - w.start - 1) / pageSize;  // the device's last page may be partial
            }
            if (last >= first) {
                w.reserved.set((int) first, (int) last);
            }
            pos = hole;
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

    /**
     * Maps, reserves and (the first time) populates every page of the range; nothing has been copied when this
     * throws, and once it returns every page is backed by blocks, so the copy cannot fault on a hole.
     */
    private void prepare(long pos, long length) throws IOException {
        file.checkSpans(pos, length);
        for (long done = 0; done < length; ) {
            Window w = window(pos + done);
            long upto = Math.min(pos + length, w.start + w.pages.limit());
            int first = (int) ((pos + done - w.start) / pageSize);
            int last = (int) ((upto - 1 - w.start) / pageSize);
            w.reserved.forEachClearRun(first, last, (a, b) -> reserve(w, a, b));
            w.populated.forEachClearRun(first, last, (a, b) -> populate(w, a, b));
            done = upto - pos;
        }
    }

    /** fallocate of pages {@code [first, last]} of the window. */
    private boolean reserve(Window w, int first, int last) throws IOException {
        long from = w.start + (long) first * pageSize;
        long to = Math.min(w.start + (long) (last + 1) * pageSize, end);
        file.reserve(from, to - from);
        return true;
    }

    /**
     * MADV_POPULATE_WRITE of pages {@code [first, last]} of the window, the first time they are written: the write
     * faults of the copy to come, taken in one call. On a page never touched (a hole, or not yet in the page cache)
     * that is where the cost is: 1 GiB of 128 KiB copies into a sparse file on ext4 ran at 4.1 GB/s populated
     * first, 0.37 GB/s faulting (on tmpfs 4.1 against 2.2). Once a page is in the page cache, a copy's fault maps
     * its whole folio, and populating again was slower (8.3 against 11 GB/s), so it is done once per page. A
     * kernel without it (before 5.14: EINVAL) is noted once, and the copy faults instead.
     */
    private boolean populate(Window w, int first, int last) throws IOException {
        if (!canPopulate) {
            return false;
        }
        long from = ((long) first * pageSize) & -OS_PAGE;
        long to = Math.min(roundUp((long) (last + 1) * pageSize), roundUp(w.pages.limit()));
        if (to - from <= OS_PAGE) {
            return false; // one page: one fault costs what the call would
        }
        while (true) {
            try {
                Posix.madvise(w.address.share(from), to - from, Posix.MADV_POPULATE_WRITE);
                return true;
            } catch (LastErrorException e) {
                if (e.getErrorCode() == Posix.EINTR) {
                    continue;
                }
                if (e.getErrorCode() == Posix.EINVAL) {
                    canPopulate = false;
                    LOG.info(file.path + ": no MADV_POPULATE_WRITE (Linux 5.14+): the copy will fault pages in");
                    return false;
                }
                // EFAULT: the pages cannot be made writable (an I/O error, the file cut short in between).
                throw new BlockDeviceException(Errno.EIO, file.path + ": cannot prepare [" + (w.start + from) + ", +"
                        + (to - from) + ") for writing: " + Posix.strerror(e.getErrorCode()));
            }
        }
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
                w.writeBack(at, len);
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
        file.force(false); // fdatasync: the data and what it takes to read it back, as nbdkit's file plugin
    }

    @Override
    public void released(long pos, long length) {
        if (length <= 0) {
            return;
        }
        // A punched hole takes the blocks and, with the pages, their page-table entries.
        for (long p = pos / pageSize; p <= (pos + length - 1) / pageSize; p++) {
            long filePos = p * pageSize;
            Window w = windows.get((int) (filePos / windowBytes));
            if (w != null) {
                int i = (int) ((filePos - w.start) / pageSize);
                w.reserved.clear(i, i);
                w.populated.clear(i, i);
            }
        }
    }
}

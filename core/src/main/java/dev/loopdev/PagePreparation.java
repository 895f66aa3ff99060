package dev.loopdev;

import com.sun.jna.LastErrorException;
import java.io.IOException;
import java.util.logging.Logger;

/**
 * The prepare step of the mapped write path, what {@code prepare_write} did for the loop driver: before a single
 * byte is copied into a window, every page the copy will touch is <b>reserved</b> (its blocks exist) and, the
 * first time, <b>populated</b> (present and writable in our page tables).
 *
 * <p>Reserving is the reason for the step: a store through a mapping into a hole of a full file system raises
 * SIGBUS, which the JVM turns into an {@link InternalError} that on JDK 17 may surface only after later stores
 * were silently dropped. One fallocate per run of pages not yet known to be reserved makes that impossible and
 * reports ENOSPC before anything was copied (the iomap order of seed 000: map, reserve, copy). Populating takes
 * in one {@code madvise(MADV_POPULATE_WRITE)} per run the write faults the copy would otherwise take page by page,
 * and turns a page that cannot be read in into an EIO before the copy. Reads get the same, {@link #prepareRead};
 * and the pages known reserved are the only ones {@link MappedPages} reads through the mapping.
 *
 * <p>What is known is kept per page in the window's {@link PageBits}; a punched hole forgets it
 * ({@link #released}).
 */
final class PagePreparation {
    private static final Logger LOG = Logger.getLogger(PagePreparation.class.getName());
    private static final int MAX_EXTENTS_SCANNED = 4096;

    private final BackingFile file;
    private final long end;
    private final PageRanges pages;
    private volatile boolean canPopulate = true;

    /** @param end file position where the device ends: a page that straddles it is reserved only up to it */
    PagePreparation(BackingFile file, long end, PageRanges pages) {
        this.file = file;
        this.end = end;
        this.pages = pages;
    }

    /**
     * Reserves and (the first time) populates the pages of {@code [at, at + len)} of the window; nothing has been
     * copied when this throws, and once it returns every page is backed by blocks, so the copy cannot fault on a
     * hole.
     */
    void prepare(MappedWindow w, int at, int len) throws IOException {
        int first = pages.pageIndex(at);
        int last = pages.pageIndex(at + len - 1);
        w.reserved.forEachClearRun(first, last, (a, b) -> reserve(w, a, b));
        w.populated.forEachClearRun(first, last, (a, b) -> populateForWriting(w, a, b));
    }

    /**
     * Makes the pages of {@code [at, at + len)} of the window present in our page tables before they are first
     * read through the mapping (MADV_POPULATE_READ per run of pages not yet known present). A page that cannot be
     * read (an I/O error beneath the file) is then an EIO here, where a copy would take SIGBUS, and on JDK 17 an
     * {@link InternalError} that may surface only after the copy returned, or in the next request's code. A page
     * whose entries were dropped since (a flush unmaps what it writes back) stays in the page cache, so a later
     * copy maps it again without reading the file.
     */
    void prepareRead(MappedWindow w, int at, int len) throws IOException {
        int first = pages.pageIndex(at);
        int last = pages.pageIndex(at + len - 1);
        w.present.forEachClearRun(first, last, (a, b) -> populate(w, a, b, Posix.MADV_POPULATE_READ, "reading"));
    }

    /**
     * Whether every page of {@code [at, at + len)} of the window is known to be backed by blocks, so that reading
     * it through the mapping allocates nothing.
     */
    boolean isReserved(MappedWindow w, int at, int len) {
        return w.reserved.allSet(pages.pageIndex(at), pages.pageIndex(at + len - 1));
    }

    /** The blocks of {@code [at, at + len)} of the window were released (a punched hole): forget its pages. */
    void released(MappedWindow w, int at, int len) {
        int first = pages.pageIndex(at);
        int last = pages.pageIndex(at + len - 1);
        w.reserved.clear(first, last);
        w.populated.clear(first, last);
        w.present.clear(first, last);
    }

    /**
     * Marks the window's pages that lie wholly inside the file's data extents (SEEK_DATA/SEEK_HOLE) reserved: their
     * blocks exist, so the first write to each needs no fallocate of its own. A fully allocated image costs two
     * lseeks per window; a fragmented one stops after {@link #MAX_EXTENTS_SCANNED} extents and leaves the rest to
     * {@link #prepare}. Where the file has no extent map, nothing is marked.
     */
    void markAllocated(MappedWindow w) {
        try {
            long limit = w.start + w.length();
            long pos = w.start;
            for (int extents = 0; pos < limit && extents < MAX_EXTENTS_SCANNED; extents++) {
                long data = file.nextData(pos);
                if (data < 0 || data >= limit) {
                    return;
                }
                long hole = Math.min(file.nextHole(data), limit);
                int first = pages.pageIndex(data - w.start + pages.pageSize() - 1); // the first page wholly in data
                // The last page wholly before the hole; the device's last page may be partial.
                int last = hole == end ? pages.pageIndex(hole - w.start - 1) : pages.pageIndex(hole - w.start) - 1;
                if (last >= first) {
                    w.reserved.set(first, last);
                }
                pos = hole;
            }
        } catch (IOException e) {
            LOG.fine(() -> file.path + ": no extent map (" + e.getMessage() + "); prepare reserves");
        }
    }

    /** fallocate of pages {@code [first, last]} of the window. */
    private boolean reserve(MappedWindow w, int first, int last) throws IOException {
        long from = w.start + pages.pageStart(first);
        long to = Math.min(w.start + pages.pageStart(last + 1), end);
        file.reserve(from, to - from);
        return true;
    }

    /**
     * MADV_POPULATE_WRITE of pages {@code [first, last]} of the window, the first time they are written: on a page
     * never touched (a hole, or not yet in the page cache) the copy's write faults are where the cost is. Once a
     * page is in the page cache a copy's fault maps its whole folio and populating again does not pay, so it is
     * done once per page; a page populated for writing is present for reading too.
     */
    private boolean populateForWriting(MappedWindow w, int first, int last) throws IOException {
        boolean done = populate(w, first, last, Posix.MADV_POPULATE_WRITE, "writing");
        if (done) {
            w.present.set(first, last);
        }
        return done;
    }

    /**
     * MADV_POPULATE_{READ,WRITE} of pages {@code [first, last]} of the window. A page that cannot be brought in (an
     * I/O error beneath the file, the file cut short in between) fails the call with EFAULT, which becomes EIO
     * here, before any copy: the copy itself would take SIGBUS. A kernel without the calls (before 5.14: EINVAL)
     * is noted once, and copies fault pages in themselves.
     */
    private boolean populate(MappedWindow w, int first, int last, int advice, String what) throws IOException {
        if (!canPopulate) {
            return false;
        }
        long from = pages.pageStart(first) & -MappedWindow.OS_PAGE_SIZE;
        long to = Math.min(MappedWindow.roundUpToOsPage(pages.pageStart(last + 1)),
                MappedWindow.roundUpToOsPage(w.length()));
        while (true) {
            try {
                Posix.madvise(w.address.share(from), to - from, advice);
                return true;
            } catch (LastErrorException e) {
                if (e.getErrorCode() == Errno.EINTR.code) {
                    continue;
                }
                if (e.getErrorCode() == Errno.EINVAL.code) {
                    if (canPopulate) {
                        canPopulate = false;
                        LOG.info(file.path + ": no MADV_POPULATE_READ/WRITE (Linux 5.14+): copies will fault pages in");
                    }
                    return false;
                }
                throw new BlockDeviceException(Errno.EIO, file.path + ": cannot bring [" + (w.start + from) + ", +"
                        + (to - from) + ") in for " + what + ": " + Errno.message(e.getErrorCode()));
            }
        }
    }
}

package dev.loopdev;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.MappedByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * One mapped window of the backing file: its bytes, what is known about its pages (which are reserved, that is
 * backed by blocks, which were ever populated for writing, and which for reading at least; see
 * {@link PagePreparation}), and the part of it written since the last flush. Positions inside a window ({@code at}) count from its first byte.
 */
final class MappedWindow {
    static final int OS_PAGE_SIZE = 4096;
    private static final Logger LOG = Logger.getLogger(MappedWindow.class.getName());

    /** The file position of the window's first byte. */
    final long start;
    final MappedByteBuffer bytes;
    final Pointer address;
    final PageBits reserved;
    final PageBits populated;
    final PageBits present;
    private final BackingFile file;
    private final AtomicBoolean canUnmap;
    private long dirtyFrom = Long.MAX_VALUE;
    private long dirtyTo = -1;

    /**
     * @param pages    how many pages of the reservation size the window holds
     * @param canUnmap shared by every window of the file; cleared for good on the first MADV_DONTNEED failure
     */
    MappedWindow(BackingFile file, long start, MappedByteBuffer bytes, int pages, AtomicBoolean canUnmap) {
        this.file = file;
        this.start = start;
        this.bytes = bytes;
        this.address = Native.getDirectBufferPointer(bytes);
        this.reserved = new PageBits(pages);
        this.populated = new PageBits(pages);
        this.present = new PageBits(pages);
        this.canUnmap = canUnmap;
    }

    int length() {
        return bytes.limit();
    }

    /** Records {@code [from, to)} as written, for the next {@link #forceDirty}. */
    synchronized void commit(int from, int to) {
        dirtyFrom = Math.min(dirtyFrom, from);
        dirtyTo = Math.max(dirtyTo, to);
    }

    /**
     * Takes the dirty range for a flush and unmaps it (see {@link #unmap}); what could not be unmapped is written
     * back here (msync), the rest by the flush's fdatasync.
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
            bytes.force((int) from, (int) (to - from));
        }
    }

    /** FUA: unmaps {@code [at, at + len)} where that pays, then writes it back (msync MS_SYNC). */
    void writeBack(int at, int len) {
        unmap(at, len);
        bytes.force(at, len);
    }

    /**
     * Where writeback write-protects pages (every file system with a backing store; not tmpfs), drops the range's
     * page-table entries before it is written back (MADV_DONTNEED: on a shared file mapping the pages stay in the
     * page cache, and a dirty entry hands its dirt to the page, so the file's own fdatasync then writes it). Two
     * costs go away with them: writeback write-protects each mapped page, and with writers on other CPUs each of
     * those is a TLB shootdown; and left mapped, every later store into a written-back page takes a write fault per
     * OS page, where a file system with large folios re-runs page_mkwrite for the whole folio each time. Unmapped,
     * the next copy faults each folio back in whole. Returns whether the entries are gone.
     */
    boolean unmap(int at, int len) {
        int from = at & -OS_PAGE_SIZE;
        long to = Math.min(roundUpToOsPage((long) at + len), roundUpToOsPage(bytes.limit()));
        if (!file.writebackWriteProtects || !canUnmap.get() || to <= from) {
            return false;
        }
        try {
            Posix.madvise(address.share(from), to - from, Posix.MADV_DONTNEED);
            return true;
        } catch (LastErrorException e) {
            if (canUnmap.getAndSet(false)) {
                LOG.info(file.path + ": madvise(MADV_DONTNEED) failed (" + Errno.message(e.getErrorCode())
                        + "); written-back pages stay mapped");
            }
            return false;
        }
    }

    static long roundUpToOsPage(long pos) {
        return (pos + OS_PAGE_SIZE - 1) & -OS_PAGE_SIZE;
    }
}

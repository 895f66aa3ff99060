package dev.loopdev;

/**
 * The file seen as pages of one size, and a byte range split into page sub-ranges (page, from, size): the one
 * iterator every loop over pages in the mapped write path uses, after the "for each page subrange do f" that most
 * users of a byte range want (seed 002), in jimfs's words ({@code pageIndex(pos)}, {@code offsetInPage(pos)}).
 * The mapped path has two sizes of page: the window it maps, and the page it reserves and populates.
 */
final class PageRanges {
    private final int pageSize;

    /** @param pageSize bytes per page, a power of two or not (windows and tiny test pages are any size) */
    PageRanges(long pageSize) {
        if (pageSize <= 0 || pageSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("page size " + pageSize);
        }
        this.pageSize = (int) pageSize;
    }

    @FunctionalInterface
    interface PageRangeConsumer<E extends Exception> {
        /**
         * @param page  the page's index
         * @param from  where the sub-range starts within the page
         * @param size  how many bytes of the page it covers (at least one)
         * @param done  bytes of the whole range before this sub-range
         */
        void accept(int page, int from, int size, long done) throws E;
    }

    int pageSize() {
        return pageSize;
    }

    /**
     * The index of the page holding byte {@code pos}. Indexes are ints: the mapped path counts windows from the
     * start of the file and pages from the start of their window.
     */
    int pageIndex(long pos) {
        return Math.toIntExact(pos / pageSize);
    }

    int offsetInPage(long pos) {
        return (int) (pos % pageSize);
    }

    /** Where page {@code page} starts. */
    long pageStart(long page) {
        return page * pageSize;
    }

    /** The number of pages that {@code bytes} bytes span, the last one possibly partial. */
    int pageCount(long bytes) {
        return (int) ((bytes + pageSize - 1) / pageSize);
    }

    /** Calls {@code f} for each page sub-range of {@code [pos, pos + length)}, in ascending page order. */
    <E extends Exception> void forEach(long pos, long length, PageRangeConsumer<E> f) throws E {
        long done = 0;
        while (done < length) {
            long p = pos + done;
            int from = offsetInPage(p);
            int size = (int) Math.min(pageSize - from, length - done);
            f.accept(pageIndex(p), from, size, done);
            done += size;
        }
    }
}

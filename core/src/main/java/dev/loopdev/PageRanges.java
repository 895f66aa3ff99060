package dev.loopdev;

/**
 * Splits a byte range into page sub-ranges (page, from, size): the one iterator both write paths use, after the
 * "for each page subrange do f" that most users of a byte range want (seed 002), in jimfs's words.
 */
final class PageRanges {
    private PageRanges() {
    }

    @FunctionalInterface
    interface PageRangeConsumer<E extends Exception> {
        /**
         * @param page  the page's index in the file
         * @param from  where the sub-range starts within the page
         * @param size  how many bytes of the page it covers
         * @param done  bytes of the whole range before this sub-range
         */
        void accept(long page, int from, int size, long done) throws E;
    }

    static long pageIndex(long pos, int pageSize) {
        return pos / pageSize;
    }

    static int offsetInPage(long pos, int pageSize) {
        return (int) (pos % pageSize);
    }

    /** Calls {@code f} for each page sub-range of {@code [pos, pos + length)}, in ascending page order. */
    static <E extends Exception> void forEach(long pos, long length, int pageSize, PageRangeConsumer<E> f) throws E {
        long done = 0;
        while (done < length) {
            long p = pos + done;
            int from = offsetInPage(p, pageSize);
            int size = (int) Math.min(pageSize - from, length - done);
            f.accept(pageIndex(p, pageSize), from, size, done);
            done += size;
        }
    }
}

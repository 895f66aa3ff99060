package dev.loopdev;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One flag per page of a mapped window, safe to use from many threads: what the mapped path knows about its
 * pages (reserved, populated for writing, present for reading). A flag that is set is a promise that was true when
 * it was set; a clear flag only means "not known", so racing threads may both do the work a flag stands for, which
 * must therefore be harmless to repeat.
 */
final class PageBits {
    /** Work for a run of pages whose flags are clear; returns whether the run's flags may now be set. */
    @FunctionalInterface
    interface RunAction {
        boolean apply(int first, int last) throws IOException;
    }

    private final AtomicLongArray words;

    PageBits(int pages) {
        this.words = new AtomicLongArray((pages + 63) / 64);
    }

    boolean get(int page) {
        return (words.get(page >>> 6) & (1L << page)) != 0;
    }

    /** Whether every flag in {@code [first, last]} is set. */
    boolean allSet(int first, int last) {
        return next(first, last, false) > last;
    }

    void set(int first, int last) {
        update(first, last, true);
    }

    void clear(int first, int last) {
        update(first, last, false);
    }

    /**
     * Calls {@code action} for each maximal run of clear flags in {@code [first, last]}, in ascending order, and
     * sets the run's flags when it returns true. The common case, every flag already set, reads a word per 64
     * pages.
     */
    void forEachClearRun(int first, int last, RunAction action) throws IOException {
        int p = first;
        while (p <= last) {
            int runStart = next(p, last, false);
            if (runStart > last) {
                return;
            }
            int runEnd = next(runStart, last, true) - 1;
            if (action.apply(runStart, runEnd)) {
                set(runStart, runEnd);
            }
            p = runEnd + 1;
        }
    }

    /** The first page in {@code [from, last]} whose flag is {@code value}, or {@code last + 1}. */
    private int next(int from, int last, boolean value) {
        for (int i = from >>> 6; i <= last >>> 6; i++) {
            long w = words.get(i);
            if (!value) {
                w = ~w;
            }
            if (i == from >>> 6) {
                w &= -1L << from; // shifts are mod 64: the bits from 'from' on
            }
            if (w != 0) {
                return Math.min(last + 1, (i << 6) + Long.numberOfTrailingZeros(w));
            }
        }
        return last + 1;
    }

    private void update(int first, int last, boolean on) {
        for (int i = first >>> 6; i <= last >>> 6; i++) {
            long mask = -1L;
            if (i == first >>> 6) {
                mask &= -1L << first;
            }
            if (i == last >>> 6) {
                mask &= -1L >>> (63 - (last & 63));
            }
            long m = mask;
            if (on) {
                words.getAndAccumulate(i, m, (a, b) -> a | b);
            } else {
                words.getAndAccumulate(i, ~m, (a, b) -> a & b);
            }
        }
    }
}

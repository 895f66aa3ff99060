package dev.loopdev;

import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Keeps overlapping requests from interleaving inside a sector: a write holds the write lock of every lock unit it
 * touches, a read the read lock. Units are striped over a fixed array of locks, always taken in ascending stripe
 * order, the way loop and NTFS lock runs of pages in ascending index order, so two requests can never deadlock.
 */
final class RangeLocks {
    static final int UNIT_BYTES = 64 * 1024;
    private static final int STRIPES = 4096;

    private final ReentrantReadWriteLock[] stripes = new ReentrantReadWriteLock[STRIPES];

    RangeLocks() {
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new ReentrantReadWriteLock();
        }
    }

    /** A held set of stripes; release it with {@link #close}. */
    final class Held implements AutoCloseable {
        private final int lo;
        private final int hi;
        private final boolean wraps;
        private final boolean exclusive;

        private Held(int lo, int hi, boolean wraps, boolean exclusive) {
            this.lo = lo;
            this.hi = hi;
            this.wraps = wraps;
            this.exclusive = exclusive;
        }

        private void forEachStripe(boolean lock) {
            if (wraps) {
                // [0, hi] then [lo, STRIPES): still ascending
                for (int i = 0; i <= hi; i++) {
                    apply(i, lock);
                }
                for (int i = lo; i < STRIPES; i++) {
                    apply(i, lock);
                }
            } else {
                for (int i = lo; i <= hi; i++) {
                    apply(i, lock);
                }
            }
        }

        private void apply(int i, boolean lock) {
            Lock l = exclusive ? stripes[i].writeLock() : stripes[i].readLock();
            if (lock) {
                l.lock();
            } else {
                l.unlock();
            }
        }

        @Override
        public void close() {
            forEachStripe(false);
        }
    }

    Held write(long pos, long length) {
        return acquire(pos, length, true);
    }

    Held read(long pos, long length) {
        return acquire(pos, length, false);
    }

    private Held acquire(long pos, long length, boolean exclusive) {
        long first = pos / UNIT_BYTES;
        long last = (pos + Math.max(length, 1) - 1) / UNIT_BYTES;
        Held h;
        if (last - first + 1 >= STRIPES) {
            h = new Held(0, STRIPES - 1, false, exclusive);
        } else {
            int lo = (int) (first % STRIPES);
            int hi = (int) (last % STRIPES);
            h = new Held(lo, hi, hi < lo, exclusive);
        }
        h.forEachStripe(true);
        return h;
    }
}

package dev.loopdev;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;

/**
 * Keeps overlapping requests from interleaving inside a sector: a write holds its byte range exclusively, a read
 * shares its range with other reads. A request waits only for requests whose ranges overlap its own; nothing else
 * can hold it up, which is what lets a request that waits on the network while it holds its range (a payload
 * received straight into the file's pages, a reply sent straight from them) delay no one but the requests that
 * would have had to wait for it on a disk too.
 *
 * <p>A request takes its whole range at once, so two requests can never deadlock. A request that conflicts with
 * one already waiting queues behind it: conflicting requests are granted in arrival order, so a stream of reads
 * cannot starve a write. One monitor guards the few ranges held at a time (a connection's requests in flight).
 */
final class RangeLocks {
    private final ArrayList<Held> held = new ArrayList<>();
    private final ArrayDeque<Held> waiting = new ArrayDeque<>();

    /** A held range; release it with {@link #close}. */
    final class Held implements AutoCloseable {
        private final long from;
        private final long to;
        private final boolean exclusive;
        private boolean granted;

        private Held(long from, long to, boolean exclusive) {
            this.from = from;
            this.to = to;
            this.exclusive = exclusive;
        }

        private boolean conflicts(Held o) {
            return (exclusive || o.exclusive) && from < o.to && o.from < to;
        }

        @Override
        public void close() {
            release(this);
        }
    }

    Held write(long pos, long length) {
        return acquire(pos, length, true);
    }

    Held read(long pos, long length) {
        return acquire(pos, length, false);
    }

    private Held acquire(long pos, long length, boolean exclusive) {
        Held h = new Held(pos, pos + Math.max(length, 1), exclusive);
        boolean interrupted = false;
        synchronized (this) {
            if (!conflictsWithAny(h, held) && !conflictsWithAny(h, waiting)) {
                h.granted = true;
                held.add(h);
                return h;
            }
            waiting.add(h);
            while (!h.granted) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true; // a request is not abandoned half-locked: wait on, keep the interrupt
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return h;
    }

    private synchronized void release(Held h) {
        if (!held.remove(h)) {
            throw new IllegalStateException("range [" + h.from + ", " + h.to + ") released twice");
        }
        if (waiting.isEmpty()) {
            return;
        }
        // Grant, in arrival order, every waiter that overlaps nothing held and no earlier waiter.
        boolean any = false;
        ArrayList<Held> earlier = new ArrayList<>();
        for (Iterator<Held> it = waiting.iterator(); it.hasNext(); ) {
            Held w = it.next();
            if (!conflictsWithAny(w, held) && !conflictsWithAny(w, earlier)) {
                it.remove();
                w.granted = true;
                held.add(w);
                any = true;
            } else {
                earlier.add(w);
            }
        }
        if (any) {
            notifyAll();
        }
    }

    private static boolean conflictsWithAny(Held h, Iterable<Held> others) {
        for (Held o : others) {
            if (h.conflicts(o)) {
                return true;
            }
        }
        return false;
    }
}

package dev.loopdev;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The backing file's size as the check that a request's range still exists needs it ({@link
 * BackingFile#checkSpans}): read afresh for every request, or, once a frontend reports its arrivals
 * ({@link #arrived}), once per arrival of requests. A size read by an fstat that started after the last arrival is
 * as good as one read for each request that arrival brought: a truncation that happened before a request arrived
 * happened before that fstat too. Concurrent callers may each read the size; none is served one read before an
 * arrival it follows.
 */
final class SizeCheck {
    interface Source {
        long size() throws IOException;
    }

    private final Source source;
    /** Arrivals reported so far, the generation a size was read at; none: a read per call. */
    private final AtomicLong arrivals = new AtomicLong();
    private volatile Checked checked = new Checked(-1, -1);

    /** A size from a read that started when {@link #arrivals} stood at {@code arrival}. */
    private record Checked(long size, long arrival) {}

    SizeCheck(Source source) {
        this.source = source;
    }

    long size() throws IOException {
        long arrival = arrivals.get(); // before the read: the size then covers every arrival up to this one
        if (arrival == 0) {
            return source.size();
        }
        Checked c = checked;
        if (c.arrival == arrival) {
            return c.size;
        }
        long size = source.size();
        checked = new Checked(size, arrival);
        return size;
    }

    /**
     * Requests have just been read off a frontend's transport. From the first call on, {@link #size} is read once
     * per arrival instead of once per call; so every frontend of the device must then call this after each read
     * that may bring requests, before it acts on them.
     */
    void arrived() {
        arrivals.incrementAndGet();
    }
}

package dev.loopdev.nbd;

/**
 * What one connection has in flight: requests admitted but not yet answered, and the payload bytes they hold. The
 * reader admits a request only within both bounds, so a client cannot make us buffer without limit: it simply
 * stops being read until replies go out. One request is always admitted, however large, so nothing deadlocks.
 */
final class InFlight {
    private final long maxBytes;
    private final int maxRequests;
    private long bytes;
    private int requests;

    InFlight(long maxBytes, int maxRequests) {
        this.maxBytes = maxBytes;
        this.maxRequests = maxRequests;
    }

    synchronized void acquire(long n) throws InterruptedException {
        while (requests > 0 && (requests >= maxRequests || bytes + n > maxBytes)) {
            wait();
        }
        requests++;
        bytes += n;
    }

    /** Admits a request if that needs no waiting; false, with nothing changed, otherwise. */
    synchronized boolean tryAcquire(long n) {
        if (requests > 0 && (requests >= maxRequests || bytes + n > maxBytes)) {
            return false;
        }
        requests++;
        bytes += n;
        return true;
    }

    synchronized void release(long n) {
        requests--;
        bytes -= n;
        notifyAll();
    }

    /** Waits until nothing is in flight, at most {@code timeoutMillis}; true when idle. */
    synchronized boolean awaitIdle(long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        while (requests > 0) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                return false;
            }
            wait(left);
        }
        return true;
    }
}

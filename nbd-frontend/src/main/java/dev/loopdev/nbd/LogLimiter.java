package dev.loopdev.nbd;

import java.util.logging.Logger;

/**
 * Warnings that hostile or broken clients can cause by the thousand: at most a few per interval are logged, and
 * how many were left out is said with the next one. One flood of clients must not become a flood of the log.
 */
final class LogLimiter {
    private final Logger log;
    private final int perInterval;
    private final long intervalNanos;
    private long intervalStart = System.nanoTime();
    private int logged;
    private int suppressed;

    LogLimiter(Logger log, int perInterval, long intervalMillis) {
        this.log = log;
        this.perInterval = perInterval;
        this.intervalNanos = intervalMillis * 1_000_000;
    }

    synchronized void warn(String message) {
        long now = System.nanoTime();
        if (now - intervalStart >= intervalNanos) {
            flush();
            intervalStart = now;
            logged = 0;
        }
        if (logged < perInterval) {
            logged++;
            log.warning(message);
        } else {
            suppressed++;
        }
    }

    /** Says how many warnings were left out since the last one logged. */
    synchronized void flush() {
        if (suppressed > 0) {
            log.warning(suppressed + " more warnings like the above were not logged");
            suppressed = 0;
        }
    }
}

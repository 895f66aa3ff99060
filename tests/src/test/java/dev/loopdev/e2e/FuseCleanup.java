package dev.loopdev.e2e;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Teardown steps (umount, losetup -d, stop a server, unmount FUSE), run last-first whatever happens, as the
 * kernel unwinds. Every step runs even when an earlier one fails; the first failure is thrown afterwards (and,
 * from try-with-resources, is suppressed under a test's own failure rather than hiding it).
 */
final class FuseCleanup implements AutoCloseable {
    interface Step {
        void run() throws Exception;
    }

    private final Deque<Step> steps = new ArrayDeque<>();

    void add(Step step) {
        steps.push(step);
    }

    /** Runs the steps registered so far now (the success path, where each must succeed). */
    void unwind() {
        close();
    }

    @Override
    public void close() {
        AssertionError first = null;
        while (!steps.isEmpty()) {
            try {
                steps.pop().run();
            } catch (Exception | AssertionError e) {
                if (first == null) {
                    first = new AssertionError("teardown step failed: " + e.getMessage(), e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}

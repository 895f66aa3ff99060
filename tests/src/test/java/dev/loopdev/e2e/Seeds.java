package dev.loopdev.e2e;

/**
 * Seeds for the randomized tests. Each test has a fixed default, so CI runs are deterministic; {@code
 * -Dloopdev.seed=N} runs (or reproduces) another. A failure names the seed that produced it.
 */
final class Seeds {
    private Seeds() {
    }

    static long seed(long fallback) {
        String s = System.getProperty("loopdev.seed");
        return s == null || s.isBlank() ? fallback : Long.parseLong(s.trim());
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs {@code body}; any failure is rethrown naming {@code what} and the seed that reproduces it. */
    static void reproducible(long seed, String what, Body body) {
        try {
            body.run();
        } catch (Throwable t) {
            throw new AssertionError(what + " failed; reproduce with -Dloopdev.seed=" + seed + ": " + t, t);
        }
    }
}

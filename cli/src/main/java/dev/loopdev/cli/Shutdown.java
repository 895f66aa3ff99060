package dev.loopdev.cli;

import java.util.concurrent.CountDownLatch;
import sun.misc.Signal;

/**
 * Turns SIGINT and SIGTERM into an orderly shutdown on the main thread, which then exits 0. (A JVM shutdown hook
 * would also run, but the process would exit 130 or 143 after it.)
 */
final class Shutdown {
    private final CountDownLatch signalled = new CountDownLatch(1);
    private volatile String why = "stopped";

    /** Runs {@code action} on every SIGUSR1, as nbdkit's stats filter does on demand. */
    static void onUsr1(Runnable action) {
        Signal.handle(new Signal("USR1"), sig -> action.run());
    }

    private Shutdown() {
    }

    static Shutdown onSignals() {
        Shutdown s = new Shutdown();
        for (String name : new String[] {"INT", "TERM"}) {
            Signal.handle(new Signal(name), sig -> {
                s.why = "SIG" + sig.getName();
                s.signalled.countDown();
            });
        }
        return s;
    }

    /** Ends the wait as a signal would (the --run command exited). */
    void trigger(String reason) {
        why = reason;
        signalled.countDown();
    }

    /** Blocks until a signal arrives; returns its name. */
    String await() throws InterruptedException {
        signalled.await();
        return why;
    }
}

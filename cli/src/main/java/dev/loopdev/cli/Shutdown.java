package dev.loopdev.cli;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.util.concurrent.CountDownLatch;
import sun.misc.Signal;

/**
 * Turns SIGINT, SIGTERM and SIGHUP into an orderly shutdown on the main thread, which then exits 0, as qemu-nbd and
 * nbdkit stop on all three. (A JVM shutdown hook would also run, but the process would exit 130 or 143 after it.)
 *
 * <p>A shell starts a background job ({@code loopdev serve ... &}) with SIGINT ignored, and the JVM leaves a signal
 * that was ignored at start-up ignored: {@code kill -INT} would then do nothing. So an inherited SIG_IGN is reset
 * to the default first, and the signal is handled like the others.
 */
final class Shutdown {
    private static final String[] STOP_SIGNALS = {"INT", "TERM", "HUP"};

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
        for (String name : STOP_SIGNALS) {
            Signal signal = new Signal(name);
            Libc.unignore(signal.getNumber());
            Signal.handle(signal, sig -> {
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

    /** sigaction(2), to see and reset a disposition the JVM would leave alone. */
    private static final class Libc {
        private static final long SIG_IGN = 1;
        /** glibc's struct sigaction is 152 bytes on 64-bit Linux, its handler first; with room to spare. */
        private static final int SIGACTION_BYTES = 256;

        static {
            Native.register(Libc.class, "c");
        }

        private static native int sigaction(int signum, Pointer act, Pointer oldact) throws LastErrorException;

        private static native Pointer signal(int signum, Pointer handler) throws LastErrorException;

        /** Sets {@code signum} back to SIG_DFL if it is ignored, so that the JVM will install its handler. */
        static void unignore(int signum) {
            try (Memory old = new Memory(SIGACTION_BYTES)) {
                old.clear();
                sigaction(signum, null, old);
                if (Pointer.nativeValue(old.getPointer(0)) == SIG_IGN) {
                    signal(signum, null); // SIG_DFL
                }
            }
        }
    }
}

package dev.loopdev.cli;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import dev.loopdev.Errno;
import java.io.IOException;
import java.nio.file.Path;

/**
 * What a process serving an attached device does to outlive the command that started it, as qemu-nbd --fork:
 * leave the terminal's session, and once it has told its parent that the device is ready, send its output to a
 * log file instead of the parent's pipe.
 */
final class Daemon {
    private static final int O_WRONLY = 1;
    private static final int O_CREAT = 0x40;
    private static final int O_APPEND = 0x400;
    private static final int O_CLOEXEC = 0x80000;

    private Daemon() {
    }

    /** The system calls a daemon needs and the JDK does not offer, bound directly. */
    private static final class Libc {
        static {
            Native.register(Libc.class, "c");
        }

        static native int setsid() throws LastErrorException;

        static native int open(String path, int flags, int mode) throws LastErrorException;

        static native int dup2(int oldFd, int newFd) throws LastErrorException;

        static native int close(int fd) throws LastErrorException;
    }

    /** setsid(2): a hangup of the starting terminal must not take the device down. */
    static void newSession() {
        try {
            Libc.setsid();
        } catch (LastErrorException ignored) {
            // already a session leader: nothing to leave
        }
    }

    /** Points descriptors 1 and 2 (System.out, System.err, and so java.util.logging) at {@code log}. */
    static void redirectOutput(Path log) throws IOException {
        redirect(log, 1, 2);
    }

    /** Points descriptor 1 (System.out) at /dev/null: what a parent waited for there has been said. */
    static void stdoutToNull() throws IOException {
        redirect(Path.of("/dev/null"), 1);
    }

    private static void redirect(Path to, int... fds) throws IOException {
        int fd;
        try {
            fd = Libc.open(to.toString(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        } catch (LastErrorException e) {
            throw new IOException(to + ": " + Errno.message(e.getErrorCode()));
        }
        try {
            for (int target : fds) {
                Libc.dup2(fd, target);
            }
        } catch (LastErrorException e) {
            throw new IOException("dup2: " + Errno.message(e.getErrorCode()));
        } finally {
            try {
                Libc.close(fd);
            } catch (LastErrorException ignored) {
                // the descriptors hold the file now; this one is surplus either way
            }
        }
    }
}

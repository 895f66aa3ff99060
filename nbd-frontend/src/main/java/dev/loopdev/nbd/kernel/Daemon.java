package dev.loopdev.nbd.kernel;

import com.sun.jna.LastErrorException;
import java.io.IOException;
import java.nio.file.Path;

/**
 * What a process serving an attached device does to outlive the command that started it, as qemu-nbd --fork:
 * leave the terminal's session, and once it has told its parent that the device is ready, send its output to a
 * log file instead of the parent's pipe.
 */
public final class Daemon {
    private Daemon() {
    }

    /** setsid(2): a hangup of the starting terminal must not take the device down. */
    public static void newSession() {
        try {
            Libc.setsid();
        } catch (LastErrorException ignored) {
            // already a session leader: nothing to leave
        }
    }

    /** Points descriptors 1 and 2 (System.out, System.err, and so java.util.logging) at {@code log}. */
    public static void redirectOutput(Path log) throws IOException {
        int fd;
        try {
            fd = Libc.open(log.toString(), Libc.O_WRONLY | Libc.O_CREAT | Libc.O_APPEND | Libc.O_CLOEXEC, 0600);
        } catch (LastErrorException e) {
            throw new IOException(log + ": " + Libc.strerror(e.getErrorCode()));
        }
        try {
            Libc.dup2(fd, 1);
            Libc.dup2(fd, 2);
        } catch (LastErrorException e) {
            throw new IOException("dup2: " + Libc.strerror(e.getErrorCode()));
        } finally {
            Libc.closeQuietly(fd);
        }
    }
}

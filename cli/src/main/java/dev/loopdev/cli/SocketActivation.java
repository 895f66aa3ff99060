package dev.loopdev.cli;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import java.io.IOException;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;

/**
 * systemd socket activation ({@code sd_listen_fds}): when LISTEN_PID is us and LISTEN_FDS at least 1, fd 3 is a
 * listening socket made for us. Java reaches an inherited socket only through {@link System#inheritedChannel()},
 * which looks at fd 0; so fd 3 is moved onto fd 0 first (stdin is not used by the server), before anything asks for
 * the inherited channel. Works for TCP and unix sockets (JDK 16+).
 */
final class SocketActivation {
    static final int SD_LISTEN_FDS_START = 3;

    static {
        Native.register(SocketActivation.class, "c");
    }

    private SocketActivation() {
    }

    private static native int dup2(int oldFd, int newFd) throws LastErrorException;

    private static native int close(int fd) throws LastErrorException;

    /** Whether the environment says we were socket-activated. */
    static boolean requested() {
        String pid = System.getenv("LISTEN_PID");
        String fds = System.getenv("LISTEN_FDS");
        try {
            return pid != null && fds != null && Long.parseLong(pid.trim()) == ProcessHandle.current().pid()
                    && Integer.parseInt(fds.trim()) >= 1;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** The listening socket on fd 3. Only the first of several sockets is served. */
    static ServerSocketChannel take() throws IOException {
        int fds = Integer.parseInt(System.getenv("LISTEN_FDS").trim());
        if (fds > 1) {
            java.util.logging.Logger.getLogger(SocketActivation.class.getName())
                    .warning("LISTEN_FDS=" + fds + ": serving on the first socket only");
        }
        try {
            dup2(SD_LISTEN_FDS_START, 0);
            close(SD_LISTEN_FDS_START);
        } catch (LastErrorException e) {
            throw new IOException("socket activation: cannot take fd 3: errno " + e.getErrorCode());
        }
        Channel c = System.inheritedChannel();
        if (!(c instanceof ServerSocketChannel ssc)) {
            throw new IOException("socket activation: fd 3 is not a listening stream socket ("
                    + (c == null ? "unsupported" : c.getClass().getSimpleName()) + ")");
        }
        return ssc;
    }
}

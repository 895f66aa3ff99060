package dev.loopdev.cli;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import dev.loopdev.Errno;
import java.nio.charset.StandardCharsets;
import java.util.logging.Logger;

/**
 * systemd's readiness protocol ({@code sd_notify}): when NOTIFY_SOCKET names a unix datagram socket, a service
 * sends {@code READY=1} once it serves and {@code STOPPING=1} when it begins to stop, so that a {@code Type=notify}
 * unit (and whatever is ordered after it) starts only when clients can connect. The JDK has no unix datagram
 * sockets, hence the system calls.
 */
final class SdNotify {
    private static final Logger LOG = Logger.getLogger(SdNotify.class.getName());
    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 0x80000;
    /** sockaddr_un: sa_family_t, then sun_path[108]. */
    private static final int SUN_PATH_BYTES = 108;

    private SdNotify() {
    }

    private static final class Libc {
        static {
            Native.register(Libc.class, "c");
        }

        static native int socket(int domain, int type, int protocol) throws LastErrorException;

        static native long sendto(int fd, byte[] buf, long len, int flags, Memory addr, int addrLen)
                throws LastErrorException;

        static native int close(int fd) throws LastErrorException;
    }

    /** Sends {@code state} (e.g. "READY=1") if systemd asked for it; a failure is logged, not fatal. */
    static void notify(String state) {
        String socket = System.getenv("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty()) {
            return;
        }
        byte[] path = socket.getBytes(StandardCharsets.UTF_8);
        if (path.length >= SUN_PATH_BYTES || (path[0] != '/' && path[0] != '@')) {
            LOG.warning("NOTIFY_SOCKET=" + socket + ": not a unix socket path; systemd is not told " + state);
            return;
        }
        if (path[0] == '@') {
            path[0] = 0; // the abstract namespace
        }
        try (Memory addr = new Memory(2 + SUN_PATH_BYTES)) {
            addr.clear();
            addr.setShort(0, (short) AF_UNIX);
            addr.write(2, path, 0, path.length);
            int addrLen = 2 + path.length + (path[0] == 0 ? 0 : 1);
            byte[] message = state.getBytes(StandardCharsets.UTF_8);
            int fd = Libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            try {
                Libc.sendto(fd, message, message.length, 0, addr, addrLen);
            } finally {
                Libc.close(fd);
            }
        } catch (LastErrorException e) {
            LOG.warning("NOTIFY_SOCKET=" + socket + ": " + Errno.message(e.getErrorCode()) + "; systemd is not told "
                    + state);
        }
    }
}

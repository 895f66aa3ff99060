package dev.loopdev.nbd.kernel;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;

/** The system calls the kernel NBD client needs and the JDK does not offer, bound directly. Linux x86-64/aarch64. */
final class Libc {
    static final int AF_UNIX = 1;
    static final int AF_NETLINK = 16;
    static final int SOCK_STREAM = 1;
    static final int SOCK_RAW = 3;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int NETLINK_GENERIC = 16;

    static final int O_RDWR = 2;
    static final int O_CLOEXEC = 0x80000;

    static {
        Native.register(Libc.class, "c");
    }

    private Libc() {
    }

    static native int socket(int domain, int type, int protocol) throws LastErrorException;

    static native int bind(int fd, byte[] addr, int addrLen) throws LastErrorException;

    static native int connect(int fd, byte[] addr, int addrLen) throws LastErrorException;

    static native long send(int fd, byte[] buf, long len, int flags) throws LastErrorException;

    static native long recv(int fd, byte[] buf, long len, int flags) throws LastErrorException;

    static native int setsockopt(int fd, int level, int name, byte[] value, int len) throws LastErrorException;

    static native int open(String path, int flags, int mode) throws LastErrorException;

    static native int close(int fd) throws LastErrorException;

    /** ioctl's third argument is an integer for every NBD request, so one fixed signature suffices. */
    static native int ioctl(int fd, long request, long arg) throws LastErrorException;

    static native int geteuid();

    /** Closes quietly: used on paths that are already reporting another error. */
    static void closeQuietly(int fd) {
        if (fd >= 0) {
            try {
                close(fd);
            } catch (LastErrorException ignored) {
                // nothing useful to do: the descriptor is gone either way
            }
        }
    }
}

package dev.loopdev;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/** The few system calls the JDK does not offer, bound directly through JNA. Linux x86-64 and aarch64. */
final class Posix {
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_CLOEXEC = 0x80000;

    static final int FALLOC_FL_KEEP_SIZE = 0x01;
    static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    static final int FALLOC_FL_ZERO_RANGE = 0x10;

    static final int SEEK_DATA = 3;
    static final int SEEK_HOLE = 4;

    static final int MADV_DONTNEED = 4;
    static final int MADV_POPULATE_READ = 22;
    static final int MADV_POPULATE_WRITE = 23;

    static {
        Native.register(Posix.class, "c");
    }

    private Posix() {
    }

    static native int open(String path, int flags) throws LastErrorException;

    static native int close(int fd) throws LastErrorException;

    static native int fallocate(int fd, int mode, long offset, long len) throws LastErrorException;

    static native long lseek(int fd, long offset, int whence) throws LastErrorException;

    static native int madvise(Pointer addr, long length, int advice) throws LastErrorException;

    static native String strerror(int errnum);

    /** True for the errno values that mean "this file system does not do that". */
    static boolean isUnsupported(int errno) {
        return errno == Errno.ENOTSUP.code || errno == Errno.ENOSYS.code;
    }
}

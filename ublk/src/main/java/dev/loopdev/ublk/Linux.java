package dev.loopdev.ublk;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/** The system calls a ublk server needs and the JDK does not offer, bound directly. Linux x86-64 and aarch64. */
final class Linux {
    /** The same numbers on every architecture since 5.1 (the unified table). */
    static final long SYS_IO_URING_SETUP = 425;
    static final long SYS_IO_URING_ENTER = 426;

    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_EXCL = 0x80;
    static final int O_CLOEXEC = 0x80000;

    static final int PROT_READ = 1;
    static final int PROT_WRITE = 2;
    static final int MAP_SHARED = 0x01;
    static final int MAP_PRIVATE = 0x02;
    static final int MAP_ANONYMOUS = 0x20;
    static final int MAP_NORESERVE = 0x4000;
    static final int MAP_POPULATE = 0x8000;

    static {
        Native.register(Linux.class, "c");
    }

    private Linux() {
    }

    /** syscall(SYS_io_uring_setup, entries, params). */
    static native int syscall(long number, int entries, Pointer params) throws LastErrorException;

    /** syscall(SYS_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0). */
    static native int syscall(long number, int fd, int toSubmit, int minComplete, int flags, Pointer sig, long sigSize)
            throws LastErrorException;

    static native int open(String path, int flags) throws LastErrorException;

    /** pread(2) into native memory at {@code address} (a long: no Pointer object per call). */
    static native long pread(int fd, long address, long count, long offset) throws LastErrorException;

    static native long pwrite(int fd, long address, long count, long offset) throws LastErrorException;

    static native int close(int fd) throws LastErrorException;

    static native Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset)
            throws LastErrorException;

    static native int munmap(Pointer addr, long length) throws LastErrorException;

    static native int geteuid();

    static native int getpagesize();

    static void closeQuietly(int fd) {
        if (fd >= 0) {
            try {
                close(fd);
            } catch (LastErrorException ignored) {
                // the descriptor is gone either way
            }
        }
    }

    static void unmapQuietly(Pointer p, long length) {
        if (p != null) {
            try {
                munmap(p, length);
            } catch (LastErrorException ignored) {
                // the process is letting go of it either way
            }
        }
    }
}

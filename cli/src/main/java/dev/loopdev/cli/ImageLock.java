package dev.loopdev.cli;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import dev.loopdev.Errno;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;

/**
 * An open-file-description lock on a whole image, as qemu takes on the images it opens: exclusive while a process
 * may write the image, shared while it only reads, so that a second server on the same file is refused before it
 * writes anything. OFD locks (F_OFD_SETLK, Linux 3.15) belong to this descriptor alone: unlike POSIX record locks
 * they do not vanish when the device closes another descriptor of the same file.
 */
final class ImageLock implements Closeable {
    private static final int O_RDONLY = 0;
    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    private static final int F_OFD_SETLK = 37;
    private static final short F_RDLCK = 0;
    private static final short F_WRLCK = 1;

    private static final class Libc {
        static {
            Native.register(Libc.class, "c");
        }

        static native int open(String path, int flags) throws LastErrorException;

        static native int fcntl(int fd, int cmd, Memory flock) throws LastErrorException;

        static native int close(int fd) throws LastErrorException;
    }

    private final int fd;

    private ImageLock(int fd) {
        this.fd = fd;
    }

    /** Locks {@code image}, or says that another process has it. */
    static ImageLock acquire(Path image, boolean readOnly) throws IOException {
        int fd;
        try {
            fd = Libc.open(image.toString(), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC); // a write lock needs O_RDWR
        } catch (LastErrorException e) {
            throw new IOException(image + ": " + Errno.message(e.getErrorCode()));
        }
        Memory flock = new Memory(32); // struct flock: l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks)
        flock.clear();
        flock.setShort(0, readOnly ? F_RDLCK : F_WRLCK);
        try {
            Libc.fcntl(fd, F_OFD_SETLK, flock);
            return new ImageLock(fd);
        } catch (LastErrorException e) {
            closeQuietly(fd);
            if (e.getErrorCode() == Errno.EAGAIN.code || e.getErrorCode() == Errno.EACCES.code) {
                throw new IOException(image + " is in use by another process (it holds a lock on the file): "
                        + "one server per image");
            }
            throw new IOException(image + ": cannot lock: " + Errno.message(e.getErrorCode()));
        }
    }

    private static void closeQuietly(int fd) {
        try {
            Libc.close(fd);
        } catch (LastErrorException ignored) {
            // nothing to release then
        }
    }

    @Override
    public void close() {
        closeQuietly(fd);
    }
}

package dev.loopdev;

import java.io.IOException;

/**
 * The one error type of the core: an {@link Errno} and a message for the log. What a device reports is one of
 * EPERM, EIO, ENOMEM, EINVAL, EROFS, ENOSPC, EOVERFLOW, ENOTSUP and ESHUTDOWN.
 */
public final class BlockDeviceException extends IOException {
    private final Errno errno;

    public BlockDeviceException(Errno errno, String message) {
        super(message);
        this.errno = errno;
    }

    public BlockDeviceException(Errno errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public Errno errno() {
        return errno;
    }

    /**
     * The errno for any failure: ours as they are; anything else as the device error it amounts to, which is
     * ENOSPC for a full file system or quota and EIO for everything else. The JDK's own I/O errors carry the
     * operating system's error only as strerror's text, so that is what is matched; see {@link #ofOsError} for a
     * number.
     */
    public static Errno errnoOf(Throwable t) {
        if (t instanceof BlockDeviceException e) {
            return e.errno;
        }
        String m = String.valueOf(t.getMessage());
        if (m.contains(Errno.ENOSPC.message()) || m.contains(Errno.EDQUOT.message())) {
            return Errno.ENOSPC;
        }
        return Errno.EIO;
    }

    /**
     * The device error an operating system's error number amounts to, as {@link #errnoOf} says for the JDK's:
     * ENOSPC for a full file system or quota, EIO for everything else.
     */
    static Errno ofOsError(int errno) {
        return errno == Errno.ENOSPC.code || errno == Errno.EDQUOT.code ? Errno.ENOSPC : Errno.EIO;
    }
}

package dev.loopdev;

import java.io.IOException;

/** The one error type of the core: an {@link Errno} and a message for the log. */
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

    /** The errno for any failure: ours as they are, anything else from the JDK as EIO (or ENOSPC when it says so). */
    public static Errno errnoOf(Throwable t) {
        if (t instanceof BlockDeviceException e) {
            return e.errno;
        }
        String m = String.valueOf(t.getMessage());
        if (m.contains("No space left on device") || m.contains("Disk quota exceeded")) {
            return Errno.ENOSPC;
        }
        return Errno.EIO;
    }
}

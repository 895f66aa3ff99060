package dev.loopdev.fuse;

import dev.loopdev.BlockDeviceException;
import dev.loopdev.Errno;

/**
 * The one place where errors become FUSE replies: a FUSE operation returns {@code -errno}. The core's {@link Errno}
 * values are the Linux ones, so the mapping is a negation; anything else a device throws goes through
 * {@link BlockDeviceException#errnoOf}, as nbdkit's {@code nbd_errno()} turns any failure into a wire code.
 */
final class FuseErrno {
    // Linux errno values the core has no name for; file-system operations need them.
    static final int ENOENT = 2;
    static final int EACCES = 13;
    static final int EISDIR = 21;
    static final int EFBIG = 27;
    static final int ENOSPC = Errno.ENOSPC.code;
    static final int EROFS = Errno.EROFS.code;
    static final int EPERM = Errno.EPERM.code;
    static final int EINVAL = Errno.EINVAL.code;
    static final int EOPNOTSUPP = Errno.ENOTSUP.code;

    private FuseErrno() {
    }

    /** The reply for a failure: a negative errno. */
    static int of(Throwable t) {
        return -BlockDeviceException.errnoOf(t).code;
    }

    static int of(Errno e) {
        return -e.code;
    }
}

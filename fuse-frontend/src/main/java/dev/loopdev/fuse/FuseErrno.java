package dev.loopdev.fuse;

import dev.loopdev.BlockDeviceException;

/**
 * The one place where a device's failure becomes a FUSE reply: a FUSE operation returns {@code -errno}. The
 * core's {@link dev.loopdev.Errno} values are the Linux ones, so the mapping is a negation; anything else a device
 * throws goes through {@link BlockDeviceException#errnoOf}, as nbdkit's {@code nbd_errno()} turns any failure into
 * a wire code.
 */
final class FuseErrno {
    private FuseErrno() {
    }

    /** The reply for a failure: a negative errno. */
    static int of(Throwable t) {
        return -BlockDeviceException.errnoOf(t).code;
    }
}

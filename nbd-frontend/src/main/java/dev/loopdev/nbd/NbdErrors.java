package dev.loopdev.nbd;

import dev.loopdev.Errno;

/** The one place where the core's {@link Errno} becomes an NBD wire error, as nbdkit's {@code nbd_errno()}. */
final class NbdErrors {
    private NbdErrors() {
    }

    static final int EPERM = 1;
    static final int EIO = 5;
    static final int ENOMEM = 12;
    static final int EINVAL = 22;
    static final int ENOSPC = 28;
    static final int EOVERFLOW = 75;
    static final int ESHUTDOWN = 108;

    static int code(Errno errno) {
        return switch (errno) {
            case EPERM, EROFS -> EPERM;
            case EIO -> EIO;
            case ENOMEM -> ENOMEM;
            case EINVAL -> EINVAL;
            case ENOSPC -> ENOSPC;
            case EOVERFLOW -> EOVERFLOW;
            case ESHUTDOWN -> ESHUTDOWN;
            // The spec reserves NBD_ENOTSUP for WRITE_ZEROES with FAST_ZERO, which we do not negotiate.
            case ENOTSUP -> EINVAL;
        };
    }
}

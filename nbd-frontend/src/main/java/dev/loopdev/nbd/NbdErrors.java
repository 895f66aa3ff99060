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
    static final int ENOTSUP = 95;
    static final int ESHUTDOWN = 108;

    /**
     * The wire error for {@code errno}. NBD_ENOTSUP is the spec's answer to a WRITE_ZEROES with FAST_ZERO that
     * could not be fast, and the signal a client (qemu-img, nbdcopy) uses to zero another way; older clients may
     * not know it, so every other "not supported" goes out as EINVAL.
     */
    static int code(Errno errno, boolean fastZero) {
        return switch (errno) {
            case EPERM, EROFS -> EPERM;
            case EIO -> EIO;
            case ENOMEM -> ENOMEM;
            case EINVAL -> EINVAL;
            case ENOSPC -> ENOSPC;
            case EOVERFLOW -> EOVERFLOW;
            case ESHUTDOWN -> ESHUTDOWN;
            case ENOTSUP -> fastZero ? ENOTSUP : EINVAL;
        };
    }

    static int code(Errno errno) {
        return code(errno, false);
    }
}

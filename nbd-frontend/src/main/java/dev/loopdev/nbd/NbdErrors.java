package dev.loopdev.nbd;

import dev.loopdev.Errno;

/**
 * The one place where the core's {@link Errno} becomes an NBD wire error, as nbdkit's {@code nbd_errno()}. The
 * spec's error numbers are the Linux ones, for the few it has: EPERM, EIO, ENOMEM, EINVAL, ENOSPC, EOVERFLOW,
 * ENOTSUP and ESHUTDOWN.
 */
final class NbdErrors {
    private NbdErrors() {
    }

    /**
     * The wire error for {@code errno}. NBD_ENOTSUP is the spec's answer to a WRITE_ZEROES with FAST_ZERO that
     * could not be fast, and the signal a client (qemu-img, nbdcopy) uses to zero another way; older clients may
     * not know it, so every other "not supported" goes out as EINVAL. A device reports no other errno; anything
     * else would be an I/O error.
     */
    static int code(Errno errno, boolean fastZero) {
        Errno wire = switch (errno) {
            case EPERM, EROFS -> Errno.EPERM;
            case EIO, ENOMEM, EINVAL, ENOSPC, EOVERFLOW, ESHUTDOWN -> errno;
            case ENOTSUP -> fastZero ? Errno.ENOTSUP : Errno.EINVAL;
            default -> Errno.EIO;
        };
        return wire.code;
    }

    static int code(Errno errno) {
        return code(errno, false);
    }
}

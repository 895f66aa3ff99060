package dev.loopdev;

/**
 * The errors a block device can report. Each frontend maps these to its wire format in exactly one place
 * (the NBD error codes happen to be the Linux errno values; FUSE wants them negated).
 */
public enum Errno {
    EPERM(1),
    EIO(5),
    ENOMEM(12),
    EINVAL(22),
    EROFS(30),
    ENOSPC(28),
    EOVERFLOW(75),
    ENOTSUP(95),
    ESHUTDOWN(108);

    /** The Linux errno value. */
    public final int code;

    Errno(int code) {
        this.code = code;
    }
}

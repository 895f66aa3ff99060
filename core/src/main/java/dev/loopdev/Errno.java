package dev.loopdev;

/**
 * Linux errno values by name, and their words: the project's one table of them. A block device reports EPERM, EIO,
 * ENOMEM, EINVAL, EROFS, ENOSPC, EOVERFLOW, ENOTSUP and ESHUTDOWN (see {@link BlockDeviceException}); each frontend
 * maps those to its wire format in exactly one place (the NBD error codes happen to be the same numbers; FUSE and
 * ublk want them negated). The rest are what the system calls behind the core, the command line, the FUSE file
 * system, ublk and the kernel's NBD client return or answer; {@link #message(int)} words any of them.
 */
public enum Errno {
    EPERM(1),
    ENOENT(2),
    EINTR(4),
    EIO(5),
    ENXIO(6),
    EAGAIN(11),
    ENOMEM(12),
    EACCES(13),
    EBUSY(16),
    EEXIST(17),
    ENODEV(19),
    ENOTDIR(20),
    EISDIR(21),
    EINVAL(22),
    ENOTTY(25),
    EFBIG(27),
    ENOSPC(28),
    EROFS(30),
    ENOSYS(38),
    ENOTEMPTY(39),
    EOVERFLOW(75),
    /** Also EOPNOTSUPP: the same number on Linux. */
    ENOTSUP(95),
    ESHUTDOWN(108),
    EDQUOT(122);

    /** The Linux errno value. */
    public final int code;

    Errno(int code) {
        this.code = code;
    }

    /** What strerror(3) says for it, e.g. "No space left on device": the words coreutils prints. */
    public String message() {
        return message(code);
    }

    /** What strerror(3) says for any Linux errno value, in this table or not. */
    public static String message(int code) {
        return Posix.strerror(code);
    }

    /** The name of a Linux errno value; null for one this table does not hold. */
    public static Errno of(int code) {
        for (Errno e : values()) {
            if (e.code == code) {
                return e;
            }
        }
        return null;
    }
}

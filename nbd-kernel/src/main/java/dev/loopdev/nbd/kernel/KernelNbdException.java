package dev.loopdev.nbd.kernel;

import java.io.IOException;

/** The kernel refused or cannot do what was asked; the message is one line meant for the user. */
public final class KernelNbdException extends IOException {
    /** The errno behind it, or 0. */
    public final int errno;

    public KernelNbdException(String message, int errno) {
        super(message);
        this.errno = errno;
    }
}

package dev.loopdev.fuse;

import java.io.IOException;

/** The device file cannot be mounted, for a reason one sentence tells the user (which it carries). */
public final class FuseSetupException extends IOException {
    public FuseSetupException(String message) {
        super(message);
    }

    public FuseSetupException(String message, Throwable cause) {
        super(message, cause);
    }
}

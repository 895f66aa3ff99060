package dev.loopdev.ublk;

import java.io.IOException;

/** A refusal of the ublk driver, or its absence, in one line for the user. */
public final class UblkException extends IOException {
    public UblkException(String message) {
        super(message);
    }
}

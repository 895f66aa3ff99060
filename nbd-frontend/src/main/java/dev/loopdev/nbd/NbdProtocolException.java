package dev.loopdev.nbd;

import java.io.IOException;

/** The client broke a MUST of the protocol, or asked for something absurd: we drop that connection only. */
final class NbdProtocolException extends IOException {
    NbdProtocolException(String message) {
        super(message);
    }
}

package dev.loopdev.luks;

/**
 * What is wrong with a LUKS image or a request about it, in one line that names it: a damaged or unsupported
 * header, a wrong passphrase, a full key-slot table. Never carries key material.
 */
public class LuksException extends RuntimeException {
    public LuksException(String message) {
        super(message);
    }

    public LuksException(String message, Throwable cause) {
        super(message, cause);
    }

    /** No key slot opens with the passphrase given: cryptsetup's wording, which scripts match. */
    public static final class WrongPassphrase extends LuksException {
        public WrongPassphrase() {
            super("No key available with this passphrase.");
        }
    }
}

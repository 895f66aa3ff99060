package dev.loopdev.nbd;

/** Whether clients may, or must, upgrade to TLS with STARTTLS before they see an export (nbdkit's --tls). */
public enum TlsMode {
    /** STARTTLS is refused as unsupported. */
    OFF,
    /** TLS is offered; plaintext clients are served too. */
    ON,
    /** Every option but STARTTLS and ABORT is refused with ERR_TLS_REQD until TLS is up. */
    REQUIRE;

    public static TlsMode parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "off" -> OFF;
            case "on" -> ON;
            case "require" -> REQUIRE;
            default -> throw new IllegalArgumentException("TLS mode must be off, on or require, not '" + s + "'");
        };
    }
}

package dev.loopdev.cli;

import dev.loopdev.nbd.PskKeys;
import dev.loopdev.nbd.TlsCredentials;
import dev.loopdev.nbd.TlsMode;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --tls}, {@code --tls-psk} and {@code --tls-certificates}, as nbdkit's options of the same names. */
final class TlsOptions {
    @Option(names = "--tls", paramLabel = "off|on|require",
            description = "require: only TLS clients (the default when credentials are given, as qemu-nbd); on: TLS "
                    + "optional, plain clients served too (logged as a warning); off: no TLS (the default without "
                    + "credentials).")
    String tls;

    @Option(names = "--tls-psk", paramLabel = "FILE",
            description = "Pre-shared keys, psktool's identity:hexkey lines (as nbdkit --tls-psk, qemu keys.psk).")
    Path pskFile;

    @Option(names = "--tls-certificates", paramLabel = "DIR",
            description = "X.509: server-cert.pem and server-key.pem in DIR (as nbdkit and qemu lay them out).")
    Path certificatesDir;

    private TlsCredentials credentials;

    TlsMode mode() {
        TlsMode m;
        try {
            m = tls != null ? TlsMode.parse(tls) : hasCredentials() ? TlsMode.REQUIRE : TlsMode.OFF;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--tls must be off, on or require, not '" + tls + "'");
        }
        if (m != TlsMode.OFF && !hasCredentials()) {
            throw new IllegalArgumentException("--tls " + tls + " needs --tls-psk FILE or --tls-certificates DIR");
        }
        return m;
    }

    TlsCredentials credentials() throws IOException {
        if (pskFile != null && certificatesDir != null) {
            throw new IllegalArgumentException("--tls-psk and --tls-certificates exclude each other");
        }
        if (credentials == null && mode() != TlsMode.OFF) {
            credentials = pskFile != null ? TlsCredentials.psk(pskFile) : TlsCredentials.x509(certificatesDir);
        }
        return credentials;
    }

    /** What a client needs in the URI: the first PSK identity and the key file, or the certificate directory. */
    Addresses.TlsUri uri() throws IOException {
        if (mode() == TlsMode.OFF) {
            return Addresses.TlsUri.NONE;
        }
        if (pskFile != null) {
            String user = PskKeys.load(pskFile).identities().get(0);
            return new Addresses.TlsUri(user, "tls-psk-file", pskFile.toAbsolutePath());
        }
        return new Addresses.TlsUri(null, "tls-certificates", certificatesDir.toAbsolutePath());
    }

    private boolean hasCredentials() {
        return pskFile != null || certificatesDir != null;
    }
}

package dev.loopdev.nbd;

import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.nio.file.Path;

/**
 * What the server proves itself with after STARTTLS: X.509 certificates or pre-shared keys, laid out as nbdkit and
 * qemu-nbd expect them. TLS itself is Bouncy Castle's, over the connection's channel (JSSE has no TLS-PSK, and its
 * SSLSocket cannot run over a unix-domain SocketChannel).
 */
public interface TlsCredentials {

    /** Runs the server side of the TLS handshake on {@code raw}; returns the channel that carries the rest. */
    ByteChannel accept(ByteChannel raw, String peer) throws IOException;

    /**
     * Pre-shared keys from a psktool file ({@code identity:hexkey} lines): TLS 1.2 with ECDHE-PSK or DHE-PSK key
     * exchange (Bouncy Castle's PSK server suites; no plain PSK).
     */
    static TlsCredentials psk(Path file) throws IOException {
        return new BcTls.Psk(PskKeys.load(file));
    }

    /**
     * An X.509 certificate chain and its key: {@code server-cert.pem} and {@code server-key.pem} in {@code dir}
     * (the directory nbdkit's and qemu's {@code tls-certificates} name, beside {@code ca-cert.pem}).
     */
    static TlsCredentials x509(Path dir) throws IOException {
        return new BcTls.X509(X509Keys.load(dir));
    }
}

package dev.loopdev.nbd;

import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.List;
import java.util.Vector;
import java.util.logging.Logger;
import org.bouncycastle.crypto.params.ECPrivateKeyParameters;
import org.bouncycastle.tls.Certificate;
import org.bouncycastle.tls.CertificateEntry;
import org.bouncycastle.tls.DefaultTlsServer;
import org.bouncycastle.tls.HashAlgorithm;
import org.bouncycastle.tls.PSKTlsServer;
import org.bouncycastle.tls.SignatureAlgorithm;
import org.bouncycastle.tls.SignatureAndHashAlgorithm;
import org.bouncycastle.tls.TlsCredentialedSigner;
import org.bouncycastle.tls.TlsCredentials;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.TlsPSKIdentityManager;
import org.bouncycastle.tls.TlsServer;
import org.bouncycastle.tls.TlsServerProtocol;
import org.bouncycastle.tls.TlsUtils;
import org.bouncycastle.tls.crypto.TlsCertificate;
import org.bouncycastle.tls.crypto.TlsCryptoParameters;
import org.bouncycastle.tls.crypto.impl.bc.BcDefaultTlsCredentialedSigner;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;

/** The two kinds of {@link dev.loopdev.nbd.TlsCredentials}, as Bouncy Castle TLS servers over blocking streams. */
final class BcTls {
    private static final Logger LOG = Logger.getLogger(BcTls.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();

    private BcTls() {
    }

    /**
     * The handshake, on the thread that negotiates with the client (one of the {@link Negotiator}'s TLS threads); a
     * failure (bad key, unknown identity, no common suite) ends it.
     */
    static ByteChannel handshake(ByteChannel raw, TlsServer server, String peer) throws IOException {
        TlsServerProtocol protocol = new TlsServerProtocol(TlsChannel.in(raw), TlsChannel.out(raw));
        try {
            protocol.accept(server);
        } catch (IOException e) {
            throw new NbdProtocolException("TLS handshake failed: " + e.getMessage());
        }
        LOG.fine(() -> peer + ": TLS handshake done");
        return new TlsChannel(protocol, raw);
    }

    static final class Psk implements dev.loopdev.nbd.TlsCredentials {
        private final PskKeys keys;

        Psk(PskKeys keys) {
            this.keys = keys;
        }

        @Override
        public ByteChannel accept(ByteChannel raw, String peer) throws IOException {
            TlsPSKIdentityManager identities = new TlsPSKIdentityManager() {
                @Override
                public byte[] getHint() {
                    return null;
                }

                @Override
                public byte[] getPSK(byte[] identity) {
                    String id = new String(identity, StandardCharsets.UTF_8);
                    byte[] key = keys.key(id);
                    if (key == null) {
                        LOG.warning(peer + ": unknown TLS-PSK identity '" + id + "'");
                    }
                    return key;
                }
            };
            return handshake(raw, new PSKTlsServer(new BcTlsCrypto(RANDOM), identities), peer);
        }
    }

    static final class X509 implements dev.loopdev.nbd.TlsCredentials {
        private final X509Keys keys;

        X509(X509Keys keys) {
            this.keys = keys;
        }

        @Override
        public ByteChannel accept(ByteChannel raw, String peer) throws IOException {
            return handshake(raw, new Server(new BcTlsCrypto(RANDOM), keys), peer);
        }
    }

    /** TLS 1.2 and 1.3 with the one certificate chain; no client certificate is asked for. */
    private static final class Server extends DefaultTlsServer {
        private final X509Keys keys;
        private final boolean ec;

        Server(BcTlsCrypto crypto, X509Keys keys) {
            super(crypto);
            this.keys = keys;
            this.ec = keys.key() instanceof ECPrivateKeyParameters;
        }

        @Override
        public TlsCredentials getCredentials() throws IOException {
            // DefaultTlsServer picks credentials by key exchange, which TLS 1.3 no longer names.
            return TlsUtils.isTLSv13(context) ? signer() : super.getCredentials();
        }

        @Override
        protected TlsCredentialedSigner getRSASignerCredentials() throws IOException {
            return ec ? null : signer();
        }

        @Override
        protected TlsCredentialedSigner getECDSASignerCredentials() throws IOException {
            return ec ? signer() : null;
        }

        private TlsCredentialedSigner signer() throws IOException {
            BcTlsCrypto crypto = (BcTlsCrypto) getCrypto();
            boolean tls13 = TlsUtils.isTLSv13(context);
            TlsCertificate[] certs = new TlsCertificate[keys.chain().size()];
            CertificateEntry[] entries = new CertificateEntry[certs.length];
            for (int i = 0; i < certs.length; i++) {
                certs[i] = crypto.createCertificate(keys.chain().get(i));
                entries[i] = new CertificateEntry(certs[i], null);
            }
            Certificate chain = tls13 ? new Certificate(TlsUtils.EMPTY_BYTES, entries) : new Certificate(certs);
            return new BcDefaultTlsCredentialedSigner(new TlsCryptoParameters(context), crypto, keys.key(), chain,
                    signatureAlgorithm(tls13));
        }

        /** The first of the client's signature algorithms our key can make (RSA: PSS first, then PKCS#1). */
        private SignatureAndHashAlgorithm signatureAlgorithm(boolean tls13) throws IOException {
            @SuppressWarnings("unchecked")
            Vector<SignatureAndHashAlgorithm> offered = context.getSecurityParametersHandshake().getClientSigAlgs();
            List<SignatureAndHashAlgorithm> wanted = ec
                    ? List.of(SignatureAndHashAlgorithm.getInstance(HashAlgorithm.sha256, SignatureAlgorithm.ecdsa),
                            SignatureAndHashAlgorithm.getInstance(HashAlgorithm.sha384, SignatureAlgorithm.ecdsa))
                    : tls13 ? List.of(SignatureAndHashAlgorithm.rsa_pss_rsae_sha256,
                            SignatureAndHashAlgorithm.rsa_pss_rsae_sha384)
                    : List.of(SignatureAndHashAlgorithm.rsa_pss_rsae_sha256,
                            SignatureAndHashAlgorithm.getInstance(HashAlgorithm.sha256, SignatureAlgorithm.rsa));
            for (SignatureAndHashAlgorithm w : wanted) {
                if (offered == null || offered.contains(w)) {
                    return w;
                }
            }
            throw new TlsFatalAlert(AlertDescription.handshake_failure, "no signature algorithm in common");
        }
    }
}

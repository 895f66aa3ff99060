package dev.loopdev.nbd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.pkcs.RSAPrivateKey;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.crypto.params.AsymmetricKeyParameter;
import org.bouncycastle.crypto.params.RSAPrivateCrtKeyParameters;
import org.bouncycastle.crypto.util.PrivateKeyFactory;

/**
 * The server's certificate chain and private key, from PEM files laid out as nbdkit and qemu-nbd lay them out:
 * {@code server-cert.pem} (the server's certificate first, then any intermediates) and {@code server-key.pem}
 * (unencrypted: PKCS#8, PKCS#1 RSA or SEC1 EC, as certtool and openssl write them).
 */
record X509Keys(List<byte[]> chain, AsymmetricKeyParameter key) {
    static final String CERT_FILE = "server-cert.pem";
    static final String KEY_FILE = "server-key.pem";
    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");

    record Block(String type, byte[] der) {
    }

    static X509Keys load(Path dir) throws IOException {
        List<byte[]> chain = new ArrayList<>();
        for (Block b : pem(dir.resolve(CERT_FILE))) {
            if (b.type().equals("CERTIFICATE")) {
                chain.add(b.der());
            }
        }
        if (chain.isEmpty()) {
            throw new IOException(dir.resolve(CERT_FILE) + ": no certificate");
        }
        Path keyFile = dir.resolve(KEY_FILE);
        for (Block b : pem(keyFile)) {
            AsymmetricKeyParameter key = switch (b.type()) {
                case "PRIVATE KEY" -> PrivateKeyFactory.createKey(b.der());
                case "RSA PRIVATE KEY" -> rsa(RSAPrivateKey.getInstance(b.der()));
                case "EC PRIVATE KEY" -> {
                    ECPrivateKey ec = ECPrivateKey.getInstance(b.der());
                    yield PrivateKeyFactory.createKey(new PrivateKeyInfo(
                            new AlgorithmIdentifier(X9ObjectIdentifiers.id_ecPublicKey, ec.getParametersObject()), ec));
                }
                default -> null;
            };
            if (key != null) {
                return new X509Keys(List.copyOf(chain), key);
            }
        }
        throw new IOException(keyFile + ": no unencrypted private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)");
    }

    static List<Block> pem(Path file) throws IOException {
        Matcher m = PEM.matcher(Files.readString(file, StandardCharsets.ISO_8859_1));
        List<Block> blocks = new ArrayList<>();
        while (m.find()) {
            blocks.add(new Block(m.group(1), Base64.getMimeDecoder().decode(m.group(2))));
        }
        return blocks;
    }

    private static AsymmetricKeyParameter rsa(RSAPrivateKey k) {
        return new RSAPrivateCrtKeyParameters(k.getModulus(), k.getPublicExponent(), k.getPrivateExponent(),
                k.getPrime1(), k.getPrime2(), k.getExponent1(), k.getExponent2(), k.getCoefficient());
    }
}

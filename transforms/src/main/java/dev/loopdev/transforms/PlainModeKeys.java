package dev.loopdev.transforms;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Locale;
import org.bouncycastle.crypto.digests.RIPEMD160Digest;

/**
 * Keys as {@code cryptsetup open --type plain} makes them: no header, no salt, no iteration count.
 *
 * <p>Defaults are those of cryptsetup's plain mode (its {@code DEFAULT_PLAIN_*} build settings): cipher
 * {@code aes-cbc-essiv:sha256}, key size 256 bits, passphrase hash {@code ripemd160}.
 */
public final class PlainModeKeys {
    public static final String DEFAULT_CIPHER = "aes-cbc-essiv:sha256";
    public static final int DEFAULT_KEY_BITS = 256;
    public static final String DEFAULT_HASH = "ripemd160";
    /** The hashes {@link #hashPassphrase} knows, for error messages. */
    public static final String KNOWN_HASHES = "ripemd160, sha1, sha224, sha256, sha384, sha512, plain; HASH:N";

    private PlainModeKeys() {
    }

    /**
     * cryptsetup's {@code crypt_plain_hash}: round r (from 0) hashes r bytes 'A' followed by the passphrase, each
     * round a fresh digest, and the rounds' digests are concatenated, the last truncated, until {@code keyBytes}
     * bytes are made. {@code hash:N} hashes only N bytes and zero-pads the rest. {@code plain} takes the passphrase
     * as the key, truncated or zero-padded (cryptsetup's CLI turns {@code --hash plain} into "no hash").
     */
    public static byte[] hashPassphrase(String hashSpec, byte[] passphrase, int keyBytes) {
        String name = hashSpec.toLowerCase(Locale.ROOT);
        int hashBytes = keyBytes;
        int colon = name.indexOf(':');
        if (colon >= 0) {
            try {
                hashBytes = Integer.parseInt(name.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("hash length in '" + hashSpec + "' is not a number");
            }
            if (hashBytes < 0 || hashBytes > keyBytes) {
                throw new IllegalArgumentException("hash length " + hashBytes + " > key length " + keyBytes);
            }
            name = name.substring(0, colon);
        }
        byte[] key = new byte[keyBytes];
        if (name.equals("plain")) {
            System.arraycopy(passphrase, 0, key, 0, Math.min(passphrase.length, hashBytes));
            return key;
        }
        Digest md = digest(name);
        byte[] d = new byte[md.size()];
        for (int round = 0, at = 0; at < hashBytes; round++) {
            for (int i = 0; i < round; i++) {
                md.update((byte) 'A');
            }
            md.update(passphrase);
            md.finish(d);
            int n = Math.min(d.length, hashBytes - at);
            System.arraycopy(d, 0, key, at, n);
            at += n;
        }
        Arrays.fill(d, (byte) 0);
        return key;
    }

    /**
     * The raw key from a key file, as cryptsetup's plain mode reads one ({@code --hash} does not apply): its first
     * {@code keyBytes} bytes. A shorter file is an error.
     */
    public static byte[] readKeyFile(Path file, int keyBytes) throws IOException {
        byte[] key = new byte[keyBytes];
        try (InputStream in = Files.newInputStream(file)) {
            int n = in.readNBytes(key, 0, keyBytes);
            if (n < keyBytes) {
                Arrays.fill(key, (byte) 0);
                throw new IllegalArgumentException(file + ": a key of " + keyBytes * 8 + " bits needs " + keyBytes
                        + " bytes, the file has " + n);
            }
        }
        return key;
    }

    /** The hash names {@link #hashPassphrase} knows. */
    public static boolean isKnownHash(String hashSpec) {
        String name = hashSpec.toLowerCase(Locale.ROOT).replaceFirst(":.*", "");
        if (name.equals("plain")) {
            return true;
        }
        try {
            digest(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private interface Digest {
        int size();

        void update(byte b);

        void update(byte[] b);

        /** Writes the digest and resets, as cryptsetup's {@code crypt_hash_final} does. */
        void finish(byte[] out);
    }

    private static Digest digest(String name) {
        if (name.equals("ripemd160")) {
            RIPEMD160Digest r = new RIPEMD160Digest();
            return new Digest() {
                public int size() {
                    return r.getDigestSize();
                }

                public void update(byte b) {
                    r.update(b);
                }

                public void update(byte[] b) {
                    r.update(b, 0, b.length);
                }

                public void finish(byte[] out) {
                    r.doFinal(out, 0);
                }
            };
        }
        String jdk = switch (name) {
            case "sha1" -> "SHA-1";
            case "sha224" -> "SHA-224";
            case "sha256" -> "SHA-256";
            case "sha384" -> "SHA-384";
            case "sha512" -> "SHA-512";
            default -> throw new IllegalArgumentException("unknown hash '" + name
                    + "' (known: sha1, sha256, sha512, ripemd160, plain)");
        };
        try {
            MessageDigest m = MessageDigest.getInstance(jdk);
            return new Digest() {
                public int size() {
                    return m.getDigestLength();
                }

                public void update(byte b) {
                    m.update(b);
                }

                public void update(byte[] b) {
                    m.update(b);
                }

                public void finish(byte[] out) {
                    byte[] d = m.digest();
                    System.arraycopy(d, 0, out, 0, d.length);
                    Arrays.fill(d, (byte) 0);
                }
            };
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

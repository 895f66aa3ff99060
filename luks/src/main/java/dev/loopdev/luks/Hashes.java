package dev.loopdev.luks;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Locale;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.digests.RIPEMD160Digest;
import org.bouncycastle.crypto.digests.SHA1Digest;
import org.bouncycastle.crypto.digests.SHA224Digest;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.digests.SHA384Digest;
import org.bouncycastle.crypto.digests.SHA512Digest;

/** The hashes LUKS headers name (PBKDF2, the AF splitter, digests), by cryptsetup's names. */
final class Hashes {
    /** Every hash name we accept, as cryptsetup spells them. */
    static final List<String> NAMES = List.of("sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160");

    private Hashes() {
    }

    /** The name in lower case, or a LuksException listing the known ones. */
    static String check(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (!NAMES.contains(n)) {
            throw new LuksException("unknown hash '" + name + "' (known: " + String.join(", ", NAMES) + ")");
        }
        return n;
    }

    /** A fresh Bouncy Castle digest: what PBKDF2's Java fallback runs on. */
    static Digest bc(String name) {
        return switch (check(name)) {
            case "sha1" -> new SHA1Digest();
            case "sha224" -> new SHA224Digest();
            case "sha256" -> new SHA256Digest();
            case "sha384" -> new SHA384Digest();
            case "sha512" -> new SHA512Digest();
            default -> new RIPEMD160Digest();
        };
    }

    /** A JDK digest where the JDK has one (its SHA-2 are intrinsics), else Bouncy Castle's behind the same face. */
    static MessageDigest jdk(String name) {
        String n = check(name);
        String jdk = switch (n) {
            case "sha1" -> "SHA-1";
            case "sha224" -> "SHA-224";
            case "sha256" -> "SHA-256";
            case "sha384" -> "SHA-384";
            case "sha512" -> "SHA-512";
            default -> null;
        };
        if (jdk == null) {
            return new BcMessageDigest(n, bc(n));
        }
        try {
            return MessageDigest.getInstance(jdk);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + jdk, e);
        }
    }

    static int size(String name) {
        return bc(name).getDigestSize();
    }

    /** A Bouncy Castle digest as a {@link MessageDigest}, for RIPEMD-160 (not in the JDK). */
    private static final class BcMessageDigest extends MessageDigest {
        private final Digest d;

        BcMessageDigest(String name, Digest d) {
            super(name);
            this.d = d;
        }

        @Override
        protected int engineGetDigestLength() {
            return d.getDigestSize();
        }

        @Override
        protected void engineUpdate(byte input) {
            d.update(input);
        }

        @Override
        protected void engineUpdate(byte[] input, int offset, int len) {
            d.update(input, offset, len);
        }

        @Override
        protected byte[] engineDigest() {
            byte[] out = new byte[d.getDigestSize()];
            d.doFinal(out, 0);
            return out;
        }

        @Override
        protected void engineReset() {
            d.reset();
        }
    }
}

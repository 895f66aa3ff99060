package dev.loopdev.transforms;

import dev.loopdev.Transform;
import java.io.IOException;
import java.util.Arrays;

/**
 * A headerless transform as {@code cryptsetup open --type plain} (or the loop driver's xor) takes it: the spec, the
 * key size, how a passphrase becomes the key, the IV offset, and where the key comes from. Every rule about them
 * is here; the command line only binds options to this record.
 *
 * @param spec     {@code none}, {@code xor} or a cipher spec; null for the caller's default
 * @param keyBits  the key size, or null for cryptsetup plain mode's default (256)
 * @param hash     the passphrase hash, or null for ripemd160; never applied to a key file
 * @param ivOffset added to the sector number for the IV, in 512-byte sectors
 * @param key      where the key or passphrase comes from
 */
public record PlainTransform(String spec, Integer keyBits, String hash, long ivOffset, KeySource key) {
    private static final int XOR_KEY_MAX_BYTES = 32;

    /** The spec given, or {@code dflt}. */
    public String spec(String dflt) {
        return spec == null ? dflt : spec;
    }

    /** What an interrupted conversion must be resumed with; never key material. */
    public String describe(String dflt) {
        return spec(dflt) + " key-size=" + keyBits + " iv-offset=" + ivOffset;
    }

    /**
     * Makes the transform, reading the key or asking for the passphrase.
     *
     * @param dflt        the spec when none was given
     * @param offsetBytes the device's offset in the file: sector numbers count from the file's start
     * @param verify      ask for a typed passphrase twice (when creating an image)
     */
    public Transform create(String dflt, long offsetBytes, boolean verify) throws IOException {
        String s = spec(dflt);
        if (!Transforms.needsKey(s)) {
            if (key.keyFile() != null || key.stdinLine() || keyBits != null || hash != null || ivOffset != 0) {
                throw new IllegalArgumentException("key and IV options need a --transform");
            }
            return Transform.NONE;
        }
        if (s.equals("xor")) {
            return xor();
        }
        CipherSpec cs = Transforms.parseCipher(s);
        int bits = keyBits == null ? PlainModeKeys.DEFAULT_KEY_BITS : keyBits;
        if (bits % 8 != 0) {
            throw new IllegalArgumentException("--key-size must be a multiple of 8");
        }
        cs.checkKeyBytes(bits / 8);
        if (offsetBytes / Transform.SECTOR_SIZE + ivOffset < 0) {
            throw new IllegalArgumentException("--iv-offset makes the first IV sector negative");
        }
        String h = hash == null ? PlainModeKeys.DEFAULT_HASH : hash;
        if (!PlainModeKeys.isKnownHash(h)) {
            throw new IllegalArgumentException("unknown --hash '" + h + "' (known: " + PlainModeKeys.KNOWN_HASHES + ")");
        }
        byte[] k = null;
        try {
            if (key.keyFile() != null) {
                if (hash != null) {
                    java.util.logging.Logger.getLogger(PlainTransform.class.getName())
                            .warning("--hash is ignored with a --key-file (cryptsetup does the same)");
                }
                k = key.rawKey(bits / 8);
            } else {
                byte[] pass = key.passphrase("Enter passphrase: ", verify);
                try {
                    k = PlainModeKeys.hashPassphrase(h, pass, bits / 8);
                } finally {
                    Arrays.fill(pass, (byte) 0);
                }
            }
            return Transforms.create(cs.toString(), k, ivOffset);
        } finally {
            if (k != null) {
                Arrays.fill(k, (byte) 0);
            }
        }
    }

    /**
     * The loop driver's xor: the key file's first 32 bytes (or fewer, {@code --key-size}), or the passphrase's, as
     * losetup truncates an xor key to the loop driver's LO_KEY_SIZE.
     */
    private Transform xor() throws IOException {
        if (ivOffset != 0 || hash != null) {
            throw new IllegalArgumentException("xor takes no --iv-offset or --hash");
        }
        byte[] k = key.keyFile() != null ? new KeySource(key.keyFile(), key.keyfileOffset(),
                key.keyfileSize() > 0 ? key.keyfileSize() : XOR_KEY_MAX_BYTES, false).passphrase("", false)
                : key.passphrase("Enter passphrase: ", false);
        try {
            int n = keyBits == null ? k.length : keyBits / 8;
            if (n > k.length || n < 1) {
                throw new IllegalArgumentException("the key is shorter than --key-size");
            }
            return Transforms.create("xor", Arrays.copyOf(k, Math.min(n, XOR_KEY_MAX_BYTES)));
        } finally {
            Arrays.fill(k, (byte) 0);
        }
    }
}

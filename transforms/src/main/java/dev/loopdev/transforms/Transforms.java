package dev.loopdev.transforms;

import dev.loopdev.Transform;
import dev.loopdev.XorTransform;

/** Creates a {@link Transform} from its spec, in cryptsetup's syntax where there is one. */
public final class Transforms {
    private Transforms() {
    }

    /** As {@link #create(String, byte[], long)} with no IV offset. */
    public static Transform create(String spec, byte[] key) {
        return create(spec, key, 0);
    }

    /**
     * @param spec     {@code none}, {@code xor}, or a cipher spec as {@link CipherSpec#parse} takes
     *                 ({@code aes-cbc-plain}, {@code aes-cbc-plain64}, {@code aes-cbc-essiv:sha256},
     *                 {@code aes-xts-plain64}, {@code twofish-cbc-plain}, {@code serpent-cbc-plain}, ...)
     * @param key      the key bytes, exactly the key size; copied, so the caller may wipe its array
     * @param ivOffset added to the sector number for the IV (dm-crypt's iv_offset); cipher specs only
     */
    public static Transform create(String spec, byte[] key, long ivOffset) {
        return create(spec, key, ivOffset, Transform.SECTOR_SIZE);
    }

    /**
     * As {@link #create(String, byte[], long)}, encrypting units of {@code sectorSize} bytes (dm-crypt's
     * {@code sector_size}: 512, 1024, 2048 or 4096; cipher specs only), whose IVs count 512-byte sectors.
     */
    public static Transform create(String spec, byte[] key, long ivOffset, int sectorSize) {
        switch (spec) {
            case "none":
                return Transform.NONE;
            case "xor":
                if (ivOffset != 0) {
                    throw new IllegalArgumentException("xor takes no IV offset");
                }
                if (sectorSize != Transform.SECTOR_SIZE) {
                    throw new IllegalArgumentException("xor works on 512-byte sectors only");
                }
                return new XorTransform(key);
            default:
                CipherSpec cs = parseCipher(spec);
                cs.checkKeyBytes(key.length);
                if (!cs.isXts()) {
                    return new CbcSectorCipher(cs, key, ivOffset, sectorSize);
                }
                return OpenSslXtsSectorCipher.handles(cs, key, sectorSize)
                        ? new OpenSslXtsSectorCipher(cs, key, ivOffset, sectorSize)
                        : new XtsSectorCipher(cs, key, ivOffset, sectorSize);
        }
    }

    /** Every spec there is, for error messages: a typo lists them. */
    public static final String KNOWN = "none, xor, or CIPHER-MODE-IV: cipher aes, twofish or serpent; mode cbc or "
            + "xts; IV plain, plain64 or (cbc only) essiv:sha256; e.g. aes-xts-plain64";

    /** Parses a cipher spec; an unknown one is an error that says what the known ones are. */
    public static CipherSpec parseCipher(String spec) {
        try {
            return CipherSpec.parse(spec);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown transform '" + spec + "': " + e.getMessage() + " (known: "
                    + KNOWN + ")");
        }
    }

    /** True for specs that take a cipher key (everything but {@code none}). */
    public static boolean needsKey(String spec) {
        return !spec.equals("none");
    }
}

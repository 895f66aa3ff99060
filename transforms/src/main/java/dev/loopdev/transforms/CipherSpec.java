package dev.loopdev.transforms;

import java.util.Locale;
import java.util.Set;
import java.util.function.Supplier;
import org.bouncycastle.crypto.BlockCipher;
import org.bouncycastle.crypto.engines.SerpentEngine;
import org.bouncycastle.crypto.engines.TwofishEngine;

/**
 * A cipher spec in cryptsetup's syntax, {@code cipher-chainmode-ivmode[:ivopts]}: {@code aes-cbc-plain},
 * {@code aes-cbc-plain64}, {@code aes-cbc-essiv:sha256}, {@code aes-xts-plain64}, and the same with
 * {@code twofish} or {@code serpent}.
 *
 * @param cipher    aes, twofish or serpent (128-bit blocks)
 * @param chainMode cbc or xts
 * @param ivMode    how a sector number becomes the IV (for XTS: the tweak before encryption)
 */
public record CipherSpec(String cipher, String chainMode, IvMode ivMode) {
    private static final Set<String> CIPHERS = Set.of("aes", "twofish", "serpent");

    /** The sector-number-to-IV generators of dm-crypt we implement. */
    public enum IvMode {
        /** Low 32 bits of the sector, little-endian, zero-padded: cryptoloop's and dm-crypt's {@code plain}. */
        PLAIN("plain"),
        /** The 64-bit sector, little-endian, zero-padded. */
        PLAIN64("plain64"),
        /** The plain64 block encrypted under SHA-256 of the key ({@code essiv:sha256}). */
        ESSIV_SHA256("essiv:sha256");

        final String spec;

        IvMode(String spec) {
            this.spec = spec;
        }
    }

    /** Parses a spec; says what is wrong in cryptsetup's words when it cannot. */
    public static CipherSpec parse(String spec) {
        String[] parts = spec.toLowerCase(Locale.ROOT).split("-", 3);
        if (parts.length != 3) {
            throw new IllegalArgumentException("'" + spec + "' is not a cipher spec like aes-xts-plain64");
        }
        if (!CIPHERS.contains(parts[0])) {
            throw new IllegalArgumentException("unknown cipher '" + parts[0] + "' (known: aes, twofish, serpent)");
        }
        if (!parts[1].equals("cbc") && !parts[1].equals("xts")) {
            throw new IllegalArgumentException("unknown chain mode '" + parts[1] + "' (known: cbc, xts)");
        }
        IvMode iv = null;
        for (IvMode m : IvMode.values()) {
            if (m.spec.equals(parts[2])) {
                iv = m;
            }
        }
        if (iv == null) {
            throw new IllegalArgumentException("unknown IV mode '" + parts[2] + "' (known: plain, plain64, essiv:sha256)");
        }
        if (parts[1].equals("xts") && iv == IvMode.ESSIV_SHA256) {
            throw new IllegalArgumentException("xts takes plain or plain64 IVs, not essiv");
        }
        return new CipherSpec(parts[0], parts[1], iv);
    }

    public boolean isXts() {
        return chainMode.equals("xts");
    }

    /** Key sizes cryptsetup accepts for this spec: XTS keys are two cipher keys, data key then tweak key. */
    public Set<Integer> keyBits() {
        return isXts() ? Set.of(256, 512) : Set.of(128, 192, 256);
    }

    /** Throws unless {@code bytes} is a key size of {@link #keyBits()}. */
    public void checkKeyBytes(int bytes) {
        if (!keyBits().contains(bytes * 8)) {
            throw new IllegalArgumentException(this + " takes a key of " + String.join(" or ",
                    keyBits().stream().sorted().map(String::valueOf).toList()) + " bits, not " + bytes * 8);
        }
    }

    /** A fresh single-thread engine for this spec's cipher under {@code key}. */
    BlockEngine engine(byte[] key) {
        return switch (cipher) {
            case "aes" -> new JdkAesEngine(key);
            case "twofish" -> new BcEngine(TwofishEngine::new, key);
            default -> new BcEngine(serpent(), key);
        };
    }

    private static Supplier<BlockCipher> serpent() {
        return SerpentEngine::new;
    }

    @Override
    public String toString() {
        return cipher + "-" + chainMode + "-" + ivMode.spec;
    }
}

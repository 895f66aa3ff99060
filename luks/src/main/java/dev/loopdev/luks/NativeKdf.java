package dev.loopdev.luks;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.util.logging.Logger;

/**
 * The key derivations cryptsetup itself runs, from the same system libraries it links: PBKDF2 from OpenSSL's
 * libcrypto and Argon2 from libargon2 (whose lanes run on threads of their own). Each is looked up once; where a
 * library is missing, {@link Kdf} falls back to Bouncy Castle in Java, which gives the same bytes more slowly.
 * Secrets pass through native memory that is zeroed before it is freed.
 */
final class NativeKdf {
    private static final Logger LOG = Logger.getLogger(NativeKdf.class.getName());

    /** OpenSSL's {@code PKCS5_PBKDF2_HMAC} and the digest lookup it needs. */
    interface LibCrypto extends Library {
        Pointer EVP_get_digestbyname(String name);

        int PKCS5_PBKDF2_HMAC(Pointer pass, int passlen, Pointer salt, int saltlen, int iter, Pointer digest,
                              int keylen, Pointer out);
    }

    /** libargon2's high-level call; {@code type} 1 is Argon2i, 2 Argon2id; version 0x13. */
    interface LibArgon2 extends Library {
        int argon2_hash(int tCost, int mCost, int parallelism, Pointer pwd, long pwdlen, Pointer salt, long saltlen,
                        Pointer hash, long hashlen, Pointer encoded, long encodedlen, int type, int version);

        String argon2_error_message(int code);
    }

    private static final LibCrypto CRYPTO = load("crypto", "libcrypto.so.3", LibCrypto.class);
    private static final LibArgon2 ARGON2 = load("argon2", "libargon2.so.1", LibArgon2.class);
    /** Tests switch the native paths off to check the Java fallbacks against them. */
    static volatile boolean enabled = true;

    private NativeKdf() {
    }

    private static <T extends Library> T load(String name, String soname, Class<T> type) {
        if (Boolean.getBoolean("loopdev.luks.javaKdf")) {
            return null;
        }
        for (String n : new String[] {soname, name}) {
            try {
                return Native.load(n, type);
            } catch (UnsatisfiedLinkError e) {
                // try the next name
            }
        }
        LOG.fine(() -> soname + " not found: key derivation runs in Java (slower)");
        return null;
    }

    static boolean hasPbkdf2() {
        return enabled && CRYPTO != null;
    }

    static boolean hasArgon2() {
        return enabled && ARGON2 != null;
    }

    /** PBKDF2 through libcrypto; null when libcrypto is missing or does not know the hash. */
    static byte[] pbkdf2(String hash, byte[] pass, byte[] salt, int iterations, int keyBytes) {
        if (!hasPbkdf2()) {
            return null;
        }
        Pointer md = CRYPTO.EVP_get_digestbyname(hash);
        if (md == null) {
            return null;
        }
        try (Secret p = new Secret(pass); Secret s = new Secret(salt); Secret out = new Secret(keyBytes)) {
            if (CRYPTO.PKCS5_PBKDF2_HMAC(p.pointer(), pass.length, s.pointer(), salt.length, iterations, md,
                    keyBytes, out.pointer()) != 1) {
                throw new LuksException("PBKDF2-" + hash + " failed in libcrypto");
            }
            return out.bytes();
        }
    }

    /** Argon2 through libargon2, {@code parallel} lanes on as many threads; null when libargon2 is missing. */
    static byte[] argon2(boolean id, byte[] pass, byte[] salt, int time, int memoryKiB, int parallel, int keyBytes) {
        if (!hasArgon2()) {
            return null;
        }
        try (Secret p = new Secret(pass); Secret s = new Secret(salt); Secret out = new Secret(keyBytes)) {
            int r = ARGON2.argon2_hash(time, memoryKiB, parallel, p.pointer(), pass.length, s.pointer(),
                    salt.length, out.pointer(), keyBytes, null, 0, id ? 2 : 1, 0x13);
            if (r == -22) { // ARGON2_MEMORY_ALLOCATION_ERROR
                throw new LuksException("not enough memory for Argon2 (" + memoryKiB + " KiB)");
            }
            if (r != 0) {
                throw new LuksException("Argon2 failed: " + ARGON2.argon2_error_message(r));
            }
            return out.bytes();
        }
    }

    /** Native memory for a secret, zeroed on close. Never empty: JNA cannot allocate zero bytes. */
    private static final class Secret implements AutoCloseable {
        private final Memory m;

        Secret(byte[] b) {
            m = new Memory(Math.max(1, b.length));
            m.write(0, b, 0, b.length);
        }

        Secret(int size) {
            m = new Memory(Math.max(1, size));
        }

        Pointer pointer() {
            return m;
        }

        byte[] bytes() {
            return m.getByteArray(0, (int) m.size());
        }

        @Override
        public void close() {
            m.clear();
            m.close();
        }
    }
}

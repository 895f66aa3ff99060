package dev.loopdev.transforms;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.logging.Logger;

/**
 * OpenSSL's AES-XTS ({@code EVP_aes_128_xts}, {@code EVP_aes_256_xts}) from the system's libcrypto, the
 * implementation cryptsetup links, bound by JNA direct mapping: a call costs a JNI transition and JNA's argument
 * dispatch (about 150 ns here), so the per-sector path is one call and nothing else. On Java 22 and later, with
 * native access enabled, that one call, {@code EVP_Cipher}, goes through the foreign function interface instead
 * ({@link Downcall}, a few nanoseconds); the rest (keying, freeing) stays on JNA.
 *
 * <p>An EVP context is keyed once. A sector's IV is then written straight into the context's live IV, the memory
 * {@code EVP_CIPHER_CTX_iv_noconst} points at (the provider's own IV, which XTS reads and never updates), and the
 * sector is one {@code EVP_Cipher} call: re-initialising the IV through {@code EVP_CipherInit_ex} would be a second
 * call per sector costing about as much again. That the pointer is live is an implementation property, not a
 * promise, so it is proven once at class load: sectors encrypted this way must equal the Java
 * {@link XtsSectorCipher}'s, for both key sizes. If libcrypto is missing, lacks a symbol, or fails that check,
 * {@link #AVAILABLE} is false and XTS runs in Java.
 *
 * <p>Contexts hold the expanded keys; {@code EVP_CIPHER_CTX_free} cleanses them. Key bytes pass through native
 * memory that is zeroed before it is freed.
 */
final class LibCryptoXts {
    private static final Logger LOG = Logger.getLogger(LibCryptoXts.class.getName());
    /**
     * {@code java}: XTS runs in Java even where libcrypto has it; {@code libcrypto}: on libcrypto for every sector
     * size, not only from {@link OpenSslXtsSectorCipher#MIN_SECTOR_SIZE} (tests, A/B benchmarks).
     */
    static final String PROPERTY = "loopdev.xts";
    private static final NativeLibrary LIBRARY = "java".equals(System.getProperty(PROPERTY)) ? null : library();
    /** {@code EVP_Cipher} through the foreign function interface, or null: then through JNA. */
    private static final MethodHandle CIPHER = LIBRARY == null ? null
            : Downcall.intOfLongLongLongInt(address("EVP_Cipher"));
    static final boolean AVAILABLE = probe();

    private LibCryptoXts() {
    }

    private static native long EVP_aes_128_xts();

    private static native long EVP_aes_256_xts();

    private static native long EVP_CIPHER_CTX_new();

    private static native void EVP_CIPHER_CTX_free(long ctx);

    private static native int EVP_CipherInit_ex(long ctx, long cipher, long engine, long key, long iv, int enc);

    private static native long EVP_CIPHER_CTX_iv_noconst(long ctx);

    private static native int EVP_Cipher(long ctx, long out, long in, int length);

    private static native void ERR_clear_error();

    /** One direction of XTS under one key, for one thread at a time. */
    static final class Context {
        private long ctx;
        /** The context's live IV: the sector number, little-endian, in the first 8 bytes. */
        private final ByteBuffer iv;

        /** @param key both halves, data key then tweak key; the caller wipes it */
        Context(byte[] key, boolean encrypt) {
            long cipher = key.length == 32 ? EVP_aes_128_xts() : EVP_aes_256_xts();
            long c = EVP_CIPHER_CTX_new();
            if (c == 0) {
                throw new OutOfMemoryError("EVP_CIPHER_CTX_new");
            }
            try (Memory k = new Memory(key.length + 16)) {
                k.write(0, key, 0, key.length);
                k.setMemory(key.length, 16, (byte) 0); // a zero IV: the IV is set per sector
                int ok = EVP_CipherInit_ex(c, cipher, 0, Pointer.nativeValue(k), Pointer.nativeValue(k) + key.length,
                        encrypt ? 1 : 0);
                k.clear();
                long live = ok == 1 ? EVP_CIPHER_CTX_iv_noconst(c) : 0;
                if (live == 0) {
                    ERR_clear_error();
                    throw new IllegalStateException("libcrypto refused the XTS key");
                }
                this.iv = new Pointer(live).getByteBuffer(0, 16).order(ByteOrder.LITTLE_ENDIAN);
                this.ctx = c;
            } catch (RuntimeException | Error e) {
                EVP_CIPHER_CTX_free(c);
                throw e;
            }
        }

        /** One sector (one XTS data unit) of {@code length} bytes at address {@code in} into {@code out}; may alias. */
        void sector(long iv, long in, long out, int length) {
            this.iv.putLong(0, iv);
            this.iv.putLong(8, 0L);
            if (cipher(ctx, out, in, length) != length) {
                ERR_clear_error();
                throw new IllegalStateException("libcrypto's XTS failed");
            }
        }

        /** Frees the context, which cleanses its key schedule. */
        void free() {
            if (ctx != 0) {
                EVP_CIPHER_CTX_free(ctx);
                ctx = 0;
            }
        }
    }

    private static int cipher(long ctx, long out, long in, int length) {
        if (CIPHER == null) {
            return EVP_Cipher(ctx, out, in, length);
        }
        try {
            return (int) CIPHER.invokeExact(ctx, out, in, length);
        } catch (Throwable e) { // the handle throws nothing of its own: C cannot throw
            throw new IllegalStateException("libcrypto's XTS failed", e);
        }
    }

    /** How {@code EVP_Cipher} is called: {@code ffm} or {@code jna} (for the log and the benchmarks). */
    static String binding() {
        return CIPHER != null ? "ffm" : "jna";
    }

    private static boolean probe() {
        if (LIBRARY == null) {
            return false;
        }
        try {
            Native.register(LibCryptoXts.class, LIBRARY);
        } catch (LinkageError | RuntimeException e) {
            LOG.fine(() -> "libcrypto's XTS is not usable (" + e.getMessage() + "): XTS runs in Java");
            return false;
        }
        try {
            boolean same = sameAsJava(32) && sameAsJava(64);
            if (!same) {
                LOG.info("libcrypto's XTS disagrees with the Java XTS on a test sector: XTS runs in Java");
            } else {
                LOG.fine(() -> "AES-XTS on libcrypto, EVP_Cipher called through " + binding());
            }
            return same;
        } catch (RuntimeException e) {
            LOG.info("libcrypto's XTS failed its test (" + e.getMessage() + "): XTS runs in Java");
            return false;
        }
    }

    /** The system's libcrypto, or null (then XTS runs in Java). */
    private static NativeLibrary library() {
        try {
            return NativeLibrary.getInstance("libcrypto.so.3");
        } catch (UnsatisfiedLinkError e) {
            try {
                return NativeLibrary.getInstance("crypto");
            } catch (UnsatisfiedLinkError | RuntimeException missing) {
                LOG.fine(() -> "no libcrypto (" + missing.getMessage() + "): XTS runs in Java");
                return null;
            }
        } catch (RuntimeException | LinkageError e) {
            LOG.fine(() -> "JNA cannot load libcrypto (" + e.getMessage() + "): XTS runs in Java");
            return null;
        }
    }

    private static long address(String symbol) {
        try {
            return Pointer.nativeValue(LIBRARY.getFunction(symbol));
        } catch (UnsatisfiedLinkError e) {
            return 0; // probe() finds it missing too, and says so
        }
    }

    /** A public test key (bytes 1, 2, 3, ...) and sector: both directions, in place, against the Java XTS. */
    private static boolean sameAsJava(int keyBytes) {
        byte[] key = new byte[keyBytes];
        for (int i = 0; i < keyBytes; i++) {
            key[i] = (byte) (i + 1);
        }
        int n = 1024;
        long sector = 0x1_2345_6788L;
        byte[] plain = new byte[n];
        for (int i = 0; i < n; i++) {
            plain[i] = (byte) (i * 7);
        }
        byte[] expected = new byte[n];
        try (XtsSectorCipher java = new XtsSectorCipher(CipherSpec.parse("aes-xts-plain64"), key, 0, n)) {
            java.encode(ByteBuffer.wrap(plain), ByteBuffer.wrap(expected), sector);
        }
        Context enc = new Context(key, true);
        Context dec = new Context(key, false);
        try (Memory m = new Memory(n)) {
            long a = Pointer.nativeValue(m);
            m.write(0, plain, 0, n);
            enc.sector(sector - 2, a, a, n); // the IV of an earlier sector must not stick
            m.write(0, plain, 0, n);
            enc.sector(sector, a, a, n);
            boolean encrypts = Arrays.equals(expected, m.getByteArray(0, n));
            dec.sector(sector, a, a, n);
            return encrypts && Arrays.equals(plain, m.getByteArray(0, n));
        } finally {
            enc.free();
            dec.free();
        }
    }
}

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
 * dispatch (about 150 ns here), so the per-sector path is one call and nothing else. Where {@link XtsSectors} is
 * loaded, a request's sectors are one JNI call into its C loop, which calls {@code EVP_Cipher} per sector itself;
 * otherwise, on Java 22 and later with native access enabled, the per-sector {@code EVP_Cipher} goes through the
 * foreign function interface ({@link Downcall}, a few nanoseconds), and through JNA elsewhere. The rest (keying,
 * freeing) stays on JNA.
 *
 * <p>An EVP context is keyed once. A sector's IV is then written straight into the context's live IV, the memory
 * {@code EVP_CIPHER_CTX_iv_noconst} points at (the provider's own IV, which XTS reads and never updates), and the
 * sector is one {@code EVP_Cipher} call: re-initialising the IV through {@code EVP_CipherInit_ex} would be a second
 * call per sector costing about as much again. That the pointer is live is an implementation property, not a
 * promise, so it is proven once at class load: sectors encrypted this way, through the binding requests use, must
 * equal the Java {@link XtsSectorCipher}'s, for both key sizes. If libcrypto is missing, lacks a symbol, or fails that check,
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
    /** Where {@code EVP_Cipher} is, for {@link XtsSectors}; 0 without libcrypto. */
    private static final long CIPHER_ADDRESS = LIBRARY == null ? 0 : address("EVP_Cipher");
    /** {@code EVP_Cipher} through the foreign function interface, or null: then through JNA. */
    private static final MethodHandle CIPHER = Downcall.intOfLongLongLongInt(CIPHER_ADDRESS);
    /** Whether a request's sectors are one call into {@link XtsSectors}' loop, not one call each. */
    private static final boolean LOOP_IN_C = CIPHER_ADDRESS != 0 && XtsSectors.LOADED;
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
        private final long ivAddress;

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
                this.ivAddress = live;
                this.ctx = c;
            } catch (RuntimeException | Error e) {
                EVP_CIPHER_CTX_free(c);
                throw e;
            }
        }

        /**
         * The sectors of {@code length} bytes at address {@code in} into {@code out} (may alias), each an XTS data
         * unit of {@code sectorSize} bytes whose IV is {@code first}, then {@code ivStep} more per sector, cut to
         * its low 32 bits with {@code plain32}. One call into {@link XtsSectors} where it is loaded.
         */
        void sectors(long first, int ivStep, boolean plain32, long in, long out, int length, int sectorSize) {
            if (!LOOP_IN_C) {
                eachSector(first, ivStep, plain32, in, out, length, sectorSize);
            } else if (XtsSectors.sectors(CIPHER_ADDRESS, ctx, ivAddress, in, out, length, sectorSize, first, ivStep,
                    plain32) != length) {
                ERR_clear_error();
                throw new IllegalStateException("libcrypto's XTS failed");
            }
        }

        /** {@link #sectors} a call per sector, from Java: where {@link XtsSectors} is not loaded, and for tests. */
        void eachSector(long first, int ivStep, boolean plain32, long in, long out, int length, int sectorSize) {
            for (int off = 0, s = 0; off < length; off += sectorSize, s++) {
                long iv = first + (long) s * ivStep;
                sector(plain32 ? iv & 0xFFFF_FFFFL : iv, in + off, out + off, sectorSize);
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

    /**
     * How {@code EVP_Cipher} is called: {@code jni} (a request's sectors in one call to {@link XtsSectors}),
     * {@code ffm} or {@code jna} (a call per sector), for the log, the tests and the benchmarks.
     */
    static String binding() {
        return LOOP_IN_C ? "jni" : CIPHER != null ? "ffm" : "jna";
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

    /**
     * A public test key (bytes 1, 2, 3, ...) and two sectors: both directions, in place, against the Java XTS, through
     * {@link Context#sectors} as requests go (so through {@link XtsSectors} where it is loaded).
     */
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
        int unit = 512;
        try (XtsSectorCipher java = new XtsSectorCipher(CipherSpec.parse("aes-xts-plain64"), key, 0, unit)) {
            java.encode(ByteBuffer.wrap(plain), ByteBuffer.wrap(expected), sector);
        }
        Context enc = new Context(key, true);
        Context dec = new Context(key, false);
        try (Memory m = new Memory(n)) {
            long a = Pointer.nativeValue(m);
            m.write(0, plain, 0, n);
            enc.sectors(sector - 2, 1, false, a, a, n, unit); // the IV of an earlier sector must not stick
            m.write(0, plain, 0, n);
            enc.sectors(sector, 1, false, a, a, n, unit);
            boolean encrypts = Arrays.equals(expected, m.getByteArray(0, n));
            dec.sectors(sector, 1, false, a, a, n, unit);
            return encrypts && Arrays.equals(plain, m.getByteArray(0, n));
        } finally {
            enc.free();
            dec.free();
        }
    }
}

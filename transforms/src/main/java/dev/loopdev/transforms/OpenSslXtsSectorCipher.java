package dev.loopdev.transforms;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.loopdev.Transform;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * {@code aes-xts-plain64} and {@code aes-xts-plain} through libcrypto ({@link LibCryptoXts}), one call per request
 * where {@link XtsSectors} is loaded and one per sector where not, giving the same bytes as {@link XtsSectorCipher}. Direct and mapped buffers are read and written where they are;
 * a heap buffer goes through the context's native scratch, a chunk at a time (JNA would copy a {@code byte[]}
 * argument into memory of its own on every call). When the source is on the heap and the destination is not, the
 * source is copied into the destination and converted there, in place.
 *
 * <p>Contexts are pooled in a {@link SlotPool}, as in {@link SectorCipher}. A context owns native memory: {@link
 * #close()} frees the idle ones and a busy one is freed by the thread that gives it back.
 */
final class OpenSslXtsSectorCipher implements Transform {
    /** Heap bytes go through native scratch this much at a time: small enough that it and the two arrays stay in L1. */
    private static final int CHUNK_BYTES = 8192;

    private final CipherSpec spec;
    private final byte[] key;
    private final long ivOffset;
    private final int sectorSize;
    private final int ivStep;
    private final SlotPool<Context> pool;

    /** One thread's contexts, one per direction (made on first use), and its scratch. */
    private final class Context {
        private LibCryptoXts.Context encrypt;
        private LibCryptoXts.Context decrypt;
        private Memory scratch;
        private ByteBuffer scratchView;
        private long scratchAddress;

        LibCryptoXts.Context direction(boolean encode) {
            if ((encode ? encrypt : decrypt) == null && pool.isClosed()) {
                throw new IllegalStateException(name() + ": the transform is closed"); // the key is wiped
            }
            if (encode) {
                return encrypt != null ? encrypt : (encrypt = new LibCryptoXts.Context(key, true));
            }
            return decrypt != null ? decrypt : (decrypt = new LibCryptoXts.Context(key, false));
        }

        /** The native scratch, made on first use: a chunk of heap bytes in or out. */
        ByteBuffer scratch() {
            if (scratch == null) {
                scratch = new Memory(CHUNK_BYTES);
                scratchView = scratch.getByteBuffer(0, CHUNK_BYTES);
                scratchAddress = Pointer.nativeValue(scratch);
            }
            return scratchView;
        }

        void free() {
            if (encrypt != null) {
                encrypt.free();
            }
            if (decrypt != null) {
                decrypt.free();
            }
            if (scratch != null) {
                scratch.clear();
                scratch.close();
            }
        }
    }

    /**
     * The smallest sector size run on libcrypto unless {@code -Dloopdev.xts=libcrypto}. Through JNA each sector
     * costs a call of about 150 ns on top of libcrypto's own time, which is about 120 ns for a 512-byte sector and
     * 700 for a 4096-byte one, so on a CPU with AVX-512 (where the JDK pipelines the Java XTS's ECB call) the Java
     * XTS is faster below 2048 bytes. With a request's sectors in one JNI call ({@link XtsSectors}), or a call per
     * sector through the foreign function interface (Java 22 and later), the call costs a few nanoseconds and
     * libcrypto is as fast or faster at every size (bench/README.md, "AES-XTS on libcrypto", "AES-XTS through the
     * foreign function interface on JDK 22+" and "AES-XTS: a request's sectors in one JNI call").
     */
    static final int MIN_SECTOR_SIZE = "jna".equals(LibCryptoXts.binding()) ? 2048 : SECTOR_SIZE;

    /** Whether this spec, key and sector size run on libcrypto; otherwise {@link XtsSectorCipher} runs them. */
    static boolean handles(CipherSpec spec, byte[] key, int sectorSize) {
        // OpenSSL refuses a key whose halves are equal (Rogaway's attack on XTS); dm-crypt outside FIPS mode and
        // the Java XTS accept it, so such a key stays in Java.
        int half = key.length / 2;
        return LibCryptoXts.AVAILABLE && spec.isXts() && spec.cipher().equals("aes")
                && !Arrays.equals(key, 0, half, key, half, key.length)
                && (sectorSize >= MIN_SECTOR_SIZE || "libcrypto".equals(System.getProperty(LibCryptoXts.PROPERTY)));
    }

    /** As {@link XtsSectorCipher#XtsSectorCipher}; {@link #handles} must have said yes. */
    OpenSslXtsSectorCipher(CipherSpec spec, byte[] key, long ivOffset, int sectorSize) {
        if (sectorSize < SECTOR_SIZE || sectorSize > SectorCipher.MAX_SECTOR_SIZE || Integer.bitCount(sectorSize) != 1) {
            throw new IllegalArgumentException("sector size must be 512, 1024, 2048 or 4096, not " + sectorSize);
        }
        this.spec = spec;
        this.key = key.clone();
        this.ivOffset = ivOffset;
        this.sectorSize = sectorSize;
        this.ivStep = sectorSize / SECTOR_SIZE;
        this.pool = new SlotPool<>(spec.toString(), Context::new, Context::free);
        Context c = pool.take();
        try {
            c.direction(true); // fail now, not on the first request
        } catch (RuntimeException e) {
            c.free();
            throw e;
        }
        pool.give(c);
    }

    @Override
    public void encode(ByteBuffer plain, ByteBuffer raw, long sector) {
        convert(true, plain, raw, sector);
    }

    @Override
    public void decode(ByteBuffer raw, ByteBuffer plain, long sector) {
        convert(false, raw, plain, sector);
    }

    private void convert(boolean encode, ByteBuffer from, ByteBuffer to, long sector) {
        int n = from.remaining();
        if (n % sectorSize != 0 || to.remaining() < n || sector % ivStep != 0) {
            throw new IllegalArgumentException("a transform works on whole sectors of " + sectorSize + " bytes: "
                    + n + " bytes into " + to.remaining() + " at sector " + sector);
        }
        if (to.isReadOnly()) {
            throw new java.nio.ReadOnlyBufferException(); // libcrypto would write it regardless (or fault)
        }
        Context c = pool.take();
        try {
            LibCryptoXts.Context xts = c.direction(encode);
            long first = sector + ivOffset;
            if (to.isDirect()) {
                long out = BufferAddress.of(to) + to.position();
                if (from.isDirect()) {
                    sectors(xts, first, BufferAddress.of(from) + from.position(), out, n);
                } else {
                    to.put(to.position(), from, from.position(), n);
                    sectors(xts, first, out, out, n);
                }
            } else {
                ByteBuffer scratch = c.scratch();
                long in = from.isDirect() ? BufferAddress.of(from) + from.position() : 0;
                for (int done = 0; done < n; done += CHUNK_BYTES) {
                    int len = Math.min(CHUNK_BYTES, n - done);
                    if (from.isDirect()) {
                        sectors(xts, first + done / SECTOR_SIZE, in + done, c.scratchAddress, len);
                    } else {
                        scratch.put(0, from, from.position() + done, len);
                        sectors(xts, first + done / SECTOR_SIZE, c.scratchAddress, c.scratchAddress, len);
                    }
                    to.put(to.position() + done, scratch, 0, len);
                }
            }
            from.position(from.position() + n);
            to.position(to.position() + n);
        } finally {
            pool.give(c);
        }
    }

    private void sectors(LibCryptoXts.Context xts, long first, long in, long out, int len) {
        xts.sectors(first, ivStep, spec.ivMode() == CipherSpec.IvMode.PLAIN, in, out, len, sectorSize);
    }

    @Override
    public int sectorSize() {
        return sectorSize;
    }

    @Override
    public String name() {
        return spec.toString();
    }

    public CipherSpec spec() {
        return spec;
    }

    @Override
    public void close() {
        pool.close();
        Arrays.fill(key, (byte) 0);
    }
}

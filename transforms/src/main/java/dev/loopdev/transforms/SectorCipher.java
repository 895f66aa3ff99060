package dev.loopdev.transforms;

import dev.loopdev.Transform;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * What the block-cipher transforms share, after dm-crypt's {@code crypt_convert}: requests are cut into chunks of
 * whole sectors, the chunk's IVs are made in one batch, and the chain mode turns the chunk around in as few cipher
 * calls as it allows. A chain mode reads a chunk from one array and writes it to another, distinct, array: the
 * buffers' own arrays when they are writable heap buffers over different arrays (no copy), otherwise the
 * {@link Context}'s scratch arrays (direct and mapped buffers, and raw and plain over the same array, which the
 * Transform contract allows: the chunk is copied in before anything is written).
 *
 * <p>Immutable after construction except for the {@link SlotPool} of contexts: a call takes an idle context or
 * makes one, and gives it back, so threads never share an engine and no per-sector {@code Cipher.init} happens.
 * {@link #close()} wipes the key bytes and every context's engine (a busy one's when its call gives it back).
 */
abstract sealed class SectorCipher implements Transform permits CbcSectorCipher, XtsSectorCipher {
    /** The most sectors of a chunk: 512-byte ones. */
    static final int CHUNK_SECTORS = 128;
    static final int CHUNK_BYTES = CHUNK_SECTORS * SECTOR_SIZE;
    static final int MAX_SECTOR_SIZE = 4096;
    static final int BLOCK = BlockEngine.BLOCK_SIZE;

    private final CipherSpec spec;
    private final long ivOffset;
    /** The unit of one chain, and the step between the IVs of consecutive units (in 512-byte sectors). */
    final int sectorSize;
    private final int ivStep;
    private final byte[] dataKey;
    private final byte[] ivKey;
    private final SlotPool<Context> pool;

    /** One call's engines and scratch space; only one thread holds a context at a time. */
    static final class Context {
        final BlockEngine data;
        final BlockEngine iv;
        final byte[] in = new byte[CHUNK_BYTES];
        final byte[] out = new byte[CHUNK_BYTES];
        final byte[] ivPlain = new byte[CHUNK_SECTORS * BLOCK];
        final byte[] ivs = new byte[CHUNK_SECTORS * BLOCK];
        /** One block per sector of the chunk, for chain modes that run the chunk's sectors side by side. */
        final byte[] lane = new byte[CHUNK_SECTORS * BLOCK];
        final byte[] laneOut = new byte[CHUNK_SECTORS * BLOCK];
        /** XTS: the tweak of every block of the chunk, its low and its high 64 bits. */
        final long[] tweakLo;
        final long[] tweakHi;

        Context(BlockEngine data, BlockEngine iv, boolean xts) {
            this.data = data;
            this.iv = iv;
            this.tweakLo = new long[xts ? CHUNK_BYTES / BLOCK : 0];
            this.tweakHi = new long[xts ? CHUNK_BYTES / BLOCK : 0];
        }

        void destroy() {
            data.destroy();
            if (iv != null) {
                iv.destroy();
            }
            for (byte[] a : new byte[][] {in, out, lane, laneOut}) {
                Arrays.fill(a, (byte) 0);
            }
            Arrays.fill(tweakLo, 0L);
            Arrays.fill(tweakHi, 0L);
        }
    }

    /**
     * @param dataKey  the data cipher's key
     * @param ivKey    the key of the IV cipher (ESSIV's hashed key, XTS's tweak key), or null for plain IVs
     * @param ivOffset   added to the sector number to make the IV, like dm-crypt's iv_offset (cryptsetup --skip), in
     *                   512-byte sectors
     * @param sectorSize the unit encrypted as one chain (dm-crypt's sector_size); its IV is the number of its first
     *                   512-byte sector plus {@code ivOffset}, as dm-crypt numbers them without iv_large_sectors
     */
    SectorCipher(CipherSpec spec, byte[] dataKey, byte[] ivKey, long ivOffset, int sectorSize) {
        if (sectorSize < SECTOR_SIZE || sectorSize > MAX_SECTOR_SIZE || Integer.bitCount(sectorSize) != 1) {
            throw new IllegalArgumentException("sector size must be 512, 1024, 2048 or 4096, not " + sectorSize);
        }
        this.spec = spec;
        this.ivOffset = ivOffset;
        this.sectorSize = sectorSize;
        this.ivStep = sectorSize / SECTOR_SIZE;
        this.dataKey = dataKey.clone();
        this.ivKey = ivKey == null ? null : ivKey.clone();
        this.pool = new SlotPool<>(spec.toString(), () -> new Context(spec.engine(this.dataKey),
                this.ivKey == null ? null : spec.engine(this.ivKey), spec.isXts()), Context::destroy);
        pool.give(pool.take()); // fail now, not on the first request, if the cipher is missing
    }

    static byte[] sha256(byte[] key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Encrypts {@code sectors} sectors from {@code in} into {@code out}, the sectors' IVs in {@code c.ivs}.
     * {@code in} and {@code out} are distinct arrays; {@code in} must be left as it is (it may be the caller's).
     */
    abstract void encodeChunk(Context c, byte[] in, int inOff, byte[] out, int outOff, int sectors);

    /** As {@link #encodeChunk}, decrypting. */
    abstract void decodeChunk(Context c, byte[] in, int inOff, byte[] out, int outOff, int sectors);

    @Override
    public final void encode(ByteBuffer plain, ByteBuffer raw, long sector) {
        convert(true, plain, raw, sector);
    }

    @Override
    public final void decode(ByteBuffer raw, ByteBuffer plain, long sector) {
        convert(false, raw, plain, sector);
    }

    private void convert(boolean encode, ByteBuffer from, ByteBuffer to, long sector) {
        int n = from.remaining();
        if (n % sectorSize != 0 || to.remaining() < n || sector % ivStep != 0) {
            throw new IllegalArgumentException("a transform works on whole sectors of " + sectorSize + " bytes: "
                    + n + " bytes into " + to.remaining() + " at sector " + sector);
        }
        Context c = pool.take();
        try {
            for (int done = 0; done < n; done += CHUNK_BYTES) {
                int len = Math.min(CHUNK_BYTES, n - done);
                int sectors = len / sectorSize;
                // Read the source in place only when the destination cannot be the same memory.
                boolean fromArray = from.hasArray() && !(to.hasArray() && to.array() == from.array());
                byte[] in = fromArray ? from.array() : c.in;
                int inOff = fromArray ? from.arrayOffset() + from.position() : 0;
                if (!fromArray) {
                    from.get(c.in, 0, len);
                }
                byte[] out = to.hasArray() ? to.array() : c.out;
                int outOff = to.hasArray() ? to.arrayOffset() + to.position() : 0;
                makeIvs(c, sector + ivOffset + done / SECTOR_SIZE, sectors);
                if (encode) {
                    encodeChunk(c, in, inOff, out, outOff, sectors);
                } else {
                    decodeChunk(c, in, inOff, out, outOff, sectors);
                }
                if (fromArray) {
                    from.position(from.position() + len);
                }
                if (out == c.out) {
                    to.put(c.out, 0, len);
                } else {
                    to.position(to.position() + len);
                }
            }
        } finally {
            pool.give(c);
        }
    }

    /**
     * dm-crypt's plain/plain64 generators, then the IV cipher if there is one (ESSIV; XTS's first tweak). {@code
     * first} is the first sector's number in 512-byte sectors; each following sector's is {@code sectorSize / 512}
     * more.
     */
    private void makeIvs(Context c, long first, int sectors) {
        byte[] target = c.iv == null ? c.ivs : c.ivPlain;
        boolean plain32 = spec.ivMode() == CipherSpec.IvMode.PLAIN;
        for (int s = 0; s < sectors; s++) {
            long iv = first + (long) s * ivStep;
            Blocks.putLong(target, s * BLOCK, plain32 ? iv & 0xFFFF_FFFFL : iv);
            Blocks.putLong(target, s * BLOCK + 8, 0L);
        }
        if (c.iv != null) {
            c.iv.encryptEcb(c.ivPlain, 0, sectors * BLOCK, c.ivs, 0);
        }
    }

    @Override
    public final int sectorSize() {
        return sectorSize;
    }

    @Override
    public final String name() {
        return spec.toString();
    }

    public final CipherSpec spec() {
        return spec;
    }

    @Override
    public final void close() {
        pool.close();
        Arrays.fill(dataKey, (byte) 0);
        if (ivKey != null) {
            Arrays.fill(ivKey, (byte) 0);
        }
    }
}

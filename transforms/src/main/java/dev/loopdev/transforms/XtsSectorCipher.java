package dev.loopdev.transforms;

/**
 * XTS (IEEE 1619) per sector (512 bytes, or dm-crypt's larger sector_size), as dm-crypt's {@code xts-plain64}: the
 * key is two cipher keys, the first for the data, the second for the tweak; a sector's first tweak is its IV
 * encrypted under the second key, and each following block's tweak is the previous one times x in GF(2^128)
 * (little-endian, x^128 + x^7 + x^2 + x + 1). Sectors are whole blocks, so there is no ciphertext stealing.
 *
 * <p>AES-XTS runs on libcrypto instead ({@link OpenSslXtsSectorCipher}, chosen in {@link Transforms#create}) where
 * {@link OpenSslXtsSectorCipher#handles} says so: at every sector size where a request's sectors are one JNI call
 * ({@link XtsSectors}) or a call each through the foreign function interface (Java 22 and later), and at sectors of
 * 2048 bytes and more when libcrypto is called through JNA. This class is the
 * reference it is tested against and runs everything else: smaller sectors on JNA, Twofish and Serpent, keys whose
 * halves are equal, and hosts without a usable libcrypto.
 *
 * <p>A chunk goes through the data cipher in one ECB call, which the JDK's AES intrinsic pipelines:
 * {@code out = E(in ^ T) ^ T}. The cipher call is fast enough that the passes around it set the pace, so each is a
 * simple loop the JIT compiles well, and there are as few stores as the shape allows (on JDK 17, C2 neither unrolls
 * nor vectorizes a loop that fuses the tweak chain with the data, and such loops measured slower than the passes
 * apart):
 * <ol>
 * <li>lay out the chunk's tweaks, their low and high halves in two {@code long} arrays. Block j's tweak only
 * depends on block j - 32's ({@code T * x^32}: two shifts, and the 32 bits shifted out folded back in with the
 * polynomial), so past a sector's first 32 blocks, which follow the serial chain of doublings, the loop has no
 * short dependency and C2 vectorizes it;
 * <li>source ^ T into the context's scratch array;
 * <li>the ECB call from there straight into the destination when that is the caller's array, and
 * <li>destination ^= T in place.
 * </ol>
 */
final class XtsSectorCipher extends SectorCipher {
    /** The distance of the tweak recurrence {@code T[j] = T[j - STRIDE] * x^STRIDE}; at most 56 (see {@link #times}). */
    private static final int STRIDE = 32;

    private final int blocksPerSector;

    XtsSectorCipher(CipherSpec spec, byte[] key, long ivOffset, int sectorSize) {
        super(spec, java.util.Arrays.copyOfRange(key, 0, key.length / 2),
                java.util.Arrays.copyOfRange(key, key.length / 2, key.length), ivOffset, sectorSize);
        this.blocksPerSector = sectorSize / BLOCK;
    }

    @Override
    void encodeChunk(Context c, byte[] in, int inOff, byte[] out, int outOff, int sectors) {
        convertChunk(true, c, in, inOff, out, outOff, sectors);
    }

    @Override
    void decodeChunk(Context c, byte[] in, int inOff, byte[] out, int outOff, int sectors) {
        convertChunk(false, c, in, inOff, out, outOff, sectors);
    }

    private void convertChunk(boolean encrypt, Context c, byte[] in, int inOff, byte[] out, int outOff, int sectors) {
        int len = sectors * sectorSize;
        tweaks(c.ivs, sectors, c.tweakLo, c.tweakHi);
        xor(in, inOff, c.tweakLo, c.tweakHi, c.in, 0, len);
        // The cipher writes the caller's array directly (c.in is distinct from it: the engine's contract); when the
        // destination is the context's own scratch, the same holds for c.out.
        if (encrypt) {
            c.data.encryptEcb(c.in, 0, len, out, outOff);
        } else {
            c.data.decryptEcb(c.in, 0, len, out, outOff);
        }
        xor(out, outOff, c.tweakLo, c.tweakHi, out, outOff, len);
    }

    /**
     * Lays out the tweak of every block of {@code sectors} sectors, block by block, as (low, high) 64-bit halves
     * in {@code lo} and {@code hi}, from each sector's first tweak in {@code firstTweaks} (little-endian, as the
     * block it is XORed with).
     */
    private void tweaks(byte[] firstTweaks, int sectors, long[] lo, long[] hi) {
        int serial = Math.min(STRIDE, blocksPerSector);
        for (int s = 0; s < sectors; s++) {
            int first = s * blocksPerSector;
            long l = Blocks.getLong(firstTweaks, s * BLOCK);
            long h = Blocks.getLong(firstTweaks, s * BLOCK + 8);
            for (int j = first; j < first + serial; j++) {
                lo[j] = l;
                hi[j] = h;
                long carry = h >> 63; // all ones when x^127 is set: reduce by x^7 + x^2 + x + 1
                h = (h << 1) | (l >>> 63);
                l = (l << 1) ^ (carry & 0x87);
            }
            times(lo, hi, first + serial, first + blocksPerSector);
        }
    }

    /**
     * {@code T[j] = T[j - STRIDE] * x^STRIDE} for j in [from, to): the STRIDE bits shifted out of the top come back
     * in as their carry-less product with x^7 + x^2 + x + 1, which stays below 2^64 while STRIDE is at most 56.
     */
    private static void times(long[] lo, long[] hi, int from, int to) {
        for (int j = from; j < to; j++) {
            long l = lo[j - STRIDE];
            long h = hi[j - STRIDE];
            long out = h >>> (64 - STRIDE);
            lo[j] = (l << STRIDE) ^ out ^ (out << 1) ^ (out << 2) ^ (out << 7);
            hi[j] = (h << STRIDE) | (l >>> (64 - STRIDE));
        }
    }

    /** {@code to[toOff..+len) = from[fromOff..+len) ^ T}, block b's tweak in {@code lo[b]}, {@code hi[b]}. */
    private static void xor(byte[] from, int fromOff, long[] lo, long[] hi, byte[] to, int toOff, int len) {
        for (int b = 0; b < len / BLOCK; b++) {
            int i = b * BLOCK;
            Blocks.putLong(to, toOff + i, Blocks.getLong(from, fromOff + i) ^ lo[b]);
            Blocks.putLong(to, toOff + i + 8, Blocks.getLong(from, fromOff + i + 8) ^ hi[b]);
        }
    }
}

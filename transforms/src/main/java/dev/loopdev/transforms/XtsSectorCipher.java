package dev.loopdev.transforms;

/**
 * XTS (IEEE 1619) per 512-byte sector, as dm-crypt's {@code xts-plain64}: the key is two cipher keys, the first for
 * the data, the second for the tweak; a sector's first tweak is its IV encrypted under the second key, and each
 * following block's tweak is the previous one times x in GF(2^128) (little-endian, x^128 + x^7 + x^2 + x + 1).
 * Sectors are whole blocks, so there is no ciphertext stealing.
 *
 * <p>A chunk goes through the data cipher in one ECB call, which the JDK's AES intrinsic pipelines:
 * {@code out = E(in ^ T) ^ T}. The cipher call is fast enough that the passes around it set the pace, so there are
 * only two, each fused with the tweak computation (two longs and a few shifts per block, cheaper than storing the
 * tweaks and reading them back): source ^ T into scratch, and scratch ^ T into the destination.
 */
final class XtsSectorCipher extends SectorCipher {
    private static final int BLOCKS_PER_SECTOR = SECTOR_SIZE / BLOCK;

    XtsSectorCipher(CipherSpec spec, byte[] key, long ivOffset) {
        super(spec, java.util.Arrays.copyOfRange(key, 0, key.length / 2),
                java.util.Arrays.copyOfRange(key, key.length / 2, key.length), ivOffset);
    }

    @Override
    void encodeChunk(Context c, byte[] in, int inOff, byte[] out, int outOff, int sectors) {
        int len = sectors * SECTOR_SIZE;
        xorTweaks(c.ivs, sectors, in, inOff, c.in, 0);
        c.data.encryptEcb(c.in, 0, len, c.out, 0);
        xorTweaks(c.ivs, sectors, c.out, 0, out, outOff);
    }

    @Override
    void decodeChunk(Context c, byte[] in, int inOff, byte[] out, int outOff, int sectors) {
        int len = sectors * SECTOR_SIZE;
        xorTweaks(c.ivs, sectors, in, inOff, c.in, 0);
        c.data.decryptEcb(c.in, 0, len, c.out, 0);
        xorTweaks(c.ivs, sectors, c.out, 0, out, outOff);
    }

    /**
     * {@code to = from ^ T} over {@code sectors} sectors, T the tweak of each block, generated from the sector's
     * first tweak in {@code firstTweaks} as (low, high) 64-bit halves. {@code from} and {@code to} may be the same
     * array at the same offset.
     */
    private static void xorTweaks(byte[] firstTweaks, int sectors, byte[] from, int fromOff, byte[] to, int toOff) {
        for (int s = 0; s < sectors; s++) {
            long lo = Blocks.getLong(firstTweaks, s * BLOCK);
            long hi = Blocks.getLong(firstTweaks, s * BLOCK + 8);
            int f = fromOff + s * SECTOR_SIZE;
            int t = toOff + s * SECTOR_SIZE;
            for (int b = 0; b < BLOCKS_PER_SECTOR; b++, f += BLOCK, t += BLOCK) {
                Blocks.putLong(to, t, Blocks.getLong(from, f) ^ lo);
                Blocks.putLong(to, t + 8, Blocks.getLong(from, f + 8) ^ hi);
                long carry = hi >> 63; // all ones when x^127 is set: reduce by x^7 + x^2 + x + 1
                hi = (hi << 1) | (lo >>> 63);
                lo = (lo << 1) ^ (carry & 0x87);
            }
        }
    }
}

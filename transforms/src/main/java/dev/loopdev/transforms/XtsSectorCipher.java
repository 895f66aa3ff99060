package dev.loopdev.transforms;

/**
 * XTS (IEEE 1619) per 512-byte sector, as dm-crypt's {@code xts-plain64}: the key is two cipher keys, the first for
 * the data, the second for the tweak; a sector's first tweak is its IV encrypted under the second key, and each
 * following block's tweak is the previous one times x in GF(2^128) (little-endian, x^128 + x^7 + x^2 + x + 1).
 * Sectors are whole blocks, so there is no ciphertext stealing.
 *
 * <p>A chunk goes through the data cipher in one ECB call, so AES-NI can pipeline it: first every tweak of the
 * chunk is laid out, then {@code out = E(in ^ T) ^ T} in three passes.
 */
final class XtsSectorCipher extends SectorCipher {
    private static final int BLOCKS_PER_SECTOR = SECTOR_SIZE / BLOCK;

    XtsSectorCipher(CipherSpec spec, byte[] key, long ivOffset) {
        super(spec, java.util.Arrays.copyOfRange(key, 0, key.length / 2),
                java.util.Arrays.copyOfRange(key, key.length / 2, key.length), ivOffset);
    }

    @Override
    void encodeChunk(Context c, int sectors) {
        int len = sectors * SECTOR_SIZE;
        tweaks(c, sectors);
        xorTweaks(c.in, c.tweaks, len);
        c.data.encryptEcb(c.in, 0, len, c.out, 0);
        xorTweaks(c.out, c.tweaks, len);
    }

    @Override
    void decodeChunk(Context c, int sectors) {
        int len = sectors * SECTOR_SIZE;
        tweaks(c, sectors);
        xorTweaks(c.in, c.tweaks, len);
        c.data.decryptEcb(c.in, 0, len, c.out, 0);
        xorTweaks(c.out, c.tweaks, len);
    }

    /** Lays out the tweak of every block of the chunk, as (low, high) 64-bit halves. */
    private static void tweaks(Context c, int sectors) {
        long[] t = c.tweaks;
        int k = 0;
        for (int s = 0; s < sectors; s++) {
            long lo = Blocks.getLong(c.ivs, s * BLOCK);
            long hi = Blocks.getLong(c.ivs, s * BLOCK + 8);
            for (int b = 0; b < BLOCKS_PER_SECTOR; b++) {
                t[k++] = lo;
                t[k++] = hi;
                long carry = hi >> 63; // all ones when x^127 is set: reduce by x^7 + x^2 + x + 1
                hi = (hi << 1) | (lo >>> 63);
                lo = (lo << 1) ^ (carry & 0x87);
            }
        }
    }

    private static void xorTweaks(byte[] data, long[] t, int len) {
        for (int i = 0, k = 0; i < len; i += Long.BYTES, k++) {
            Blocks.putLong(data, i, Blocks.getLong(data, i) ^ t[k]);
        }
    }
}

package dev.loopdev.transforms;

/**
 * CBC per sector (512 bytes, or dm-crypt's larger sector_size), each sector its own chain from its IV: cryptoloop ({@code aes-cbc-plain}) and dm-crypt's
 * cbc modes.
 *
 * <p>Encryption is sequential within a sector but the sectors are independent, so a chunk of several sectors runs
 * them side by side ({@link #encodeSideBySide}): block j of every sector goes through one ECB call, which the JDK's
 * AES intrinsic pipelines, where one sector alone would wait for each block before starting the next. A single
 * sector (or a few, where the per-call cost of ECB would dominate) runs as one CBC call. Decryption has no
 * dependency at all: the whole chunk is decrypted as one chain, and then the first block of each sector is fixed:
 * it came out XORed with the previous sector's last ciphertext block where it needed its own IV.
 */
final class CbcSectorCipher extends SectorCipher {
    private final int blocksPerSector;
    /** From this many sectors a chunk is encrypted side by side (measured: JDK 17 and 25, AES-NI with VAES). */
    static final int SIDE_BY_SIDE_SECTORS = 4;

    CbcSectorCipher(CipherSpec spec, byte[] key, long ivOffset, int sectorSize) {
        super(spec, key, spec.ivMode() == CipherSpec.IvMode.ESSIV_SHA256 ? sha256(key) : null, ivOffset, sectorSize);
        this.blocksPerSector = sectorSize / BLOCK;
    }

    @Override
    void encodeChunk(Context c, byte[] in, int inOff, byte[] out, int outOff, int sectors) {
        if (sectors >= SIDE_BY_SIDE_SECTORS) {
            encodeSideBySide(c, in, inOff, out, outOff, sectors);
            return;
        }
        if (in != c.in) { // the IV is folded into the first block, and the caller's input stays untouched
            System.arraycopy(in, inOff, c.in, 0, sectors * sectorSize);
        }
        for (int s = 0; s < sectors; s++) {
            int at = s * sectorSize;
            Blocks.xor(c.in, at, c.ivs, s * BLOCK, BLOCK);
            c.data.encryptCbc(c.in, at, sectorSize, out, outOff + at);
        }
    }

    /**
     * Step j encrypts lane[s] = P[s][j] ^ C[s][j-1] (C[s][-1] = IV[s]) for every sector s in one ECB call; the
     * output lane holds C[s][j], which is stored into the sector and chained into the next step's lane.
     */
    private void encodeSideBySide(Context c, byte[] in, int inOff, byte[] out, int outOff, int sectors) {
        byte[] lane = c.lane;
        byte[] chained = c.laneOut;
        int laneBytes = sectors * BLOCK;
        for (int s = 0; s < sectors; s++) {
            xorBlock(in, inOff + s * sectorSize, c.ivs, s * BLOCK, lane, s * BLOCK);
        }
        for (int j = 0; j < blocksPerSector; j++) {
            c.data.encryptEcb(lane, 0, laneBytes, chained, 0);
            int at = j * BLOCK;
            for (int s = 0; s < sectors; s++, at += sectorSize) {
                System.arraycopy(chained, s * BLOCK, out, outOff + at, BLOCK);
                if (j + 1 < blocksPerSector) {
                    xorBlock(in, inOff + at + BLOCK, chained, s * BLOCK, lane, s * BLOCK);
                }
            }
        }
    }

    /** {@code dst[d..d+16) = a[x..x+16) ^ b[y..y+16)}. */
    private static void xorBlock(byte[] a, int x, byte[] b, int y, byte[] dst, int d) {
        Blocks.putLong(dst, d, Blocks.getLong(a, x) ^ Blocks.getLong(b, y));
        Blocks.putLong(dst, d + 8, Blocks.getLong(a, x + 8) ^ Blocks.getLong(b, y + 8));
    }

    @Override
    void decodeChunk(Context c, byte[] in, int inOff, byte[] out, int outOff, int sectors) {
        c.data.decryptCbc(in, inOff, sectors * sectorSize, out, outOff);
        Blocks.xor(out, outOff, c.ivs, 0, BLOCK);
        for (int s = 1; s < sectors; s++) {
            int at = s * sectorSize;
            Blocks.xor(out, outOff + at, in, inOff + at - BLOCK, BLOCK);
            Blocks.xor(out, outOff + at, c.ivs, s * BLOCK, BLOCK);
        }
    }
}

package dev.loopdev.transforms;

/**
 * CBC per 512-byte sector, each sector its own chain from its IV: cryptoloop ({@code aes-cbc-plain}) and dm-crypt's
 * cbc modes.
 *
 * <p>Encryption is sequential within a sector, so it runs one engine call per sector, the IV folded into the first
 * plaintext block (the engine's chain starts from zero). Decryption has no such dependency: the whole chunk is
 * decrypted as one chain, which lets the intrinsic pipeline the blocks, and then the first block of each sector is
 * fixed: it came out XORed with the previous sector's last ciphertext block where it needed its own IV.
 */
final class CbcSectorCipher extends SectorCipher {
    CbcSectorCipher(CipherSpec spec, byte[] key, long ivOffset) {
        super(spec, key, spec.ivMode() == CipherSpec.IvMode.ESSIV_SHA256 ? sha256(key) : null, ivOffset);
    }

    @Override
    void encodeChunk(Context c, int sectors) {
        for (int s = 0; s < sectors; s++) {
            int at = s * SECTOR_SIZE;
            Blocks.xor(c.in, at, c.ivs, s * BLOCK, BLOCK);
            c.data.encryptCbc(c.in, at, SECTOR_SIZE, c.out, at);
        }
    }

    @Override
    void decodeChunk(Context c, int sectors) {
        c.data.decryptCbc(c.in, 0, sectors * SECTOR_SIZE, c.out, 0);
        Blocks.xor(c.out, 0, c.ivs, 0, BLOCK);
        for (int s = 1; s < sectors; s++) {
            int at = s * SECTOR_SIZE;
            Blocks.xor(c.out, at, c.in, at - BLOCK, BLOCK);
            Blocks.xor(c.out, at, c.ivs, s * BLOCK, BLOCK);
        }
    }
}

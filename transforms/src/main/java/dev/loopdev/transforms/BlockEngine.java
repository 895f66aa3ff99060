package dev.loopdev.transforms;

/**
 * One thread's keyed 128-bit block cipher, over whole 16-byte blocks. Every CBC call is a fresh chain that starts
 * from a zero IV: callers fold the sector's real IV in themselves, which is what lets one keyed engine serve every
 * sector without being initialised again per sector (a JCE {@code Cipher.init} costs about as much as encrypting a
 * sector). Input and output arrays are always distinct. {@link #encryptCbc}'s input is scratch space that the
 * engine may overwrite; the other calls leave their input as it is (it may be the caller's). Not thread-safe: a {@link SectorCipher} gives each thread
 * its own.
 */
interface BlockEngine {
    int BLOCK_SIZE = 16;

    void encryptEcb(byte[] in, int inOff, int len, byte[] out, int outOff);

    void decryptEcb(byte[] in, int inOff, int len, byte[] out, int outOff);

    void encryptCbc(byte[] in, int inOff, int len, byte[] out, int outOff);

    void decryptCbc(byte[] in, int inOff, int len, byte[] out, int outOff);

    /** Forgets the key, as far as the implementation lets us reach it. */
    void destroy();
}

package dev.loopdev.transforms;

import java.security.GeneralSecurityException;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES through the JDK's provider, whose CBC and ECB loops are HotSpot intrinsics (AES-NI; ECB and CBC decryption
 * pipelined with VAES where the CPU has it, on JDK 17 and 25). Each {@link Cipher} is initialised once; ECB keeps
 * no state between blocks, so it runs as {@code update} calls (no reset); {@code doFinal} resets the CBC decryption
 * cipher to its zero IV, so every call is a fresh chain.
 */
final class JdkAesEngine implements BlockEngine {
    private static final IvParameterSpec ZERO_IV = new IvParameterSpec(new byte[BLOCK_SIZE]);

    private final byte[] key;
    private Cipher ecbEncrypt;
    private Cipher ecbDecrypt;
    private Cipher cbcEncrypt;
    private Cipher cbcDecrypt;
    /** What the CBC encryption stream's register holds: the last ciphertext block it produced. */
    private final byte[] lastCipherBlock = new byte[BLOCK_SIZE];

    JdkAesEngine(byte[] key) {
        this.key = key.clone();
    }

    @Override
    public void encryptEcb(byte[] in, int inOff, int len, byte[] out, int outOff) {
        if (ecbEncrypt == null) {
            ecbEncrypt = cipher("AES/ECB/NoPadding", Cipher.ENCRYPT_MODE);
        }
        update(ecbEncrypt, in, inOff, len, out, outOff);
    }

    @Override
    public void decryptEcb(byte[] in, int inOff, int len, byte[] out, int outOff) {
        if (ecbDecrypt == null) {
            ecbDecrypt = cipher("AES/ECB/NoPadding", Cipher.DECRYPT_MODE);
        }
        update(ecbDecrypt, in, inOff, len, out, outOff);
    }

    /**
     * CBC encryption runs as one endless stream of {@code update} calls (no reset per call, which costs as much as
     * a fifth of a sector): the cipher's register holds the previous call's last ciphertext block, so folding that
     * block into the first input block cancels it and starts the chain from zero, as the contract says.
     */
    @Override
    public void encryptCbc(byte[] in, int inOff, int len, byte[] out, int outOff) {
        if (cbcEncrypt == null) {
            cbcEncrypt = cipher("AES/CBC/NoPadding", Cipher.ENCRYPT_MODE);
        }
        Blocks.xor(in, inOff, lastCipherBlock, 0, BLOCK_SIZE);
        try {
            if (cbcEncrypt.update(in, inOff, len, out, outOff) != len) {
                throw new IllegalStateException("AES/CBC held back input");
            }
        } catch (GeneralSecurityException e) {
            cbcEncrypt = null; // the register is unknown now: start a new stream next time
            java.util.Arrays.fill(lastCipherBlock, (byte) 0);
            throw new IllegalStateException("AES failed on whole blocks", e);
        }
        System.arraycopy(out, outOff + len - BLOCK_SIZE, lastCipherBlock, 0, BLOCK_SIZE);
    }

    @Override
    public void decryptCbc(byte[] in, int inOff, int len, byte[] out, int outOff) {
        if (cbcDecrypt == null) {
            cbcDecrypt = cipher("AES/CBC/NoPadding", Cipher.DECRYPT_MODE);
        }
        run(cbcDecrypt, in, inOff, len, out, outOff);
    }

    private static void update(Cipher c, byte[] in, int inOff, int len, byte[] out, int outOff) {
        try {
            if (c.update(in, inOff, len, out, outOff) != len) {
                throw new IllegalStateException("AES/ECB held back input");
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES failed on whole blocks", e);
        }
    }

    private static void run(Cipher c, byte[] in, int inOff, int len, byte[] out, int outOff) {
        try {
            c.doFinal(in, inOff, len, out, outOff);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES failed on whole blocks", e);
        }
    }

    private Cipher cipher(String transformation, int mode) {
        try {
            Cipher c = Cipher.getInstance(transformation);
            SecretKeySpec k = new SecretKeySpec(key, "AES");
            if (transformation.contains("CBC")) {
                c.init(mode, k, ZERO_IV);
            } else {
                c.init(mode, k);
            }
            return c;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK lacks " + transformation, e);
        }
    }

    /**
     * Wipes our copy of the key and drops the ciphers. The JCE offers no way to wipe a key schedule it expanded;
     * dropping the last reference is all that can be done from outside it.
     */
    @Override
    public void destroy() {
        Arrays.fill(key, (byte) 0);
        Arrays.fill(lastCipherBlock, (byte) 0);
        ecbEncrypt = ecbDecrypt = cbcEncrypt = cbcDecrypt = null;
    }
}

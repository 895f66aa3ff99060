package dev.loopdev.transforms;

import java.security.GeneralSecurityException;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES through the JDK's provider, whose CBC and ECB loops are HotSpot intrinsics (AES-NI). Each {@link Cipher} is
 * initialised once; {@code doFinal} resets a CBC cipher to its zero IV, so every call is a fresh chain.
 */
final class JdkAesEngine implements BlockEngine {
    private static final IvParameterSpec ZERO_IV = new IvParameterSpec(new byte[BLOCK_SIZE]);

    private final byte[] key;
    private Cipher ecbEncrypt;
    private Cipher ecbDecrypt;
    private Cipher cbcEncrypt;
    private Cipher cbcDecrypt;

    JdkAesEngine(byte[] key) {
        this.key = key.clone();
    }

    @Override
    public void encryptEcb(byte[] in, int inOff, int len, byte[] out, int outOff) {
        if (ecbEncrypt == null) {
            ecbEncrypt = cipher("AES/ECB/NoPadding", Cipher.ENCRYPT_MODE);
        }
        run(ecbEncrypt, in, inOff, len, out, outOff);
    }

    @Override
    public void decryptEcb(byte[] in, int inOff, int len, byte[] out, int outOff) {
        if (ecbDecrypt == null) {
            ecbDecrypt = cipher("AES/ECB/NoPadding", Cipher.DECRYPT_MODE);
        }
        run(ecbDecrypt, in, inOff, len, out, outOff);
    }

    @Override
    public void encryptCbc(byte[] in, int inOff, int len, byte[] out, int outOff) {
        if (cbcEncrypt == null) {
            cbcEncrypt = cipher("AES/CBC/NoPadding", Cipher.ENCRYPT_MODE);
        }
        run(cbcEncrypt, in, inOff, len, out, outOff);
    }

    @Override
    public void decryptCbc(byte[] in, int inOff, int len, byte[] out, int outOff) {
        if (cbcDecrypt == null) {
            cbcDecrypt = cipher("AES/CBC/NoPadding", Cipher.DECRYPT_MODE);
        }
        run(cbcDecrypt, in, inOff, len, out, outOff);
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
        ecbEncrypt = ecbDecrypt = cbcEncrypt = cbcDecrypt = null;
    }
}

package dev.loopdev.transforms;

import java.util.Arrays;
import java.util.function.Supplier;
import org.bouncycastle.crypto.BlockCipher;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * A Bouncy Castle lightweight block cipher (Twofish, Serpent), with ECB and CBC chained here. No JCE provider is
 * registered, so the shaded jar needs no provider signature.
 */
final class BcEngine implements BlockEngine {
    private final BlockCipher encrypt;
    private final BlockCipher decrypt;
    private final byte[] chain = new byte[BLOCK_SIZE];
    private final byte[] block = new byte[BLOCK_SIZE];

    BcEngine(Supplier<BlockCipher> engines, byte[] key) {
        encrypt = engines.get();
        decrypt = engines.get();
        encrypt.init(true, new KeyParameter(key));
        decrypt.init(false, new KeyParameter(key));
        assert encrypt.getBlockSize() == BLOCK_SIZE;
    }

    @Override
    public void encryptEcb(byte[] in, int inOff, int len, byte[] out, int outOff) {
        for (int i = 0; i < len; i += BLOCK_SIZE) {
            encrypt.processBlock(in, inOff + i, out, outOff + i);
        }
    }

    @Override
    public void decryptEcb(byte[] in, int inOff, int len, byte[] out, int outOff) {
        for (int i = 0; i < len; i += BLOCK_SIZE) {
            decrypt.processBlock(in, inOff + i, out, outOff + i);
        }
    }

    @Override
    public void encryptCbc(byte[] in, int inOff, int len, byte[] out, int outOff) {
        Arrays.fill(chain, (byte) 0);
        for (int i = 0; i < len; i += BLOCK_SIZE) {
            for (int j = 0; j < BLOCK_SIZE; j++) {
                block[j] = (byte) (in[inOff + i + j] ^ chain[j]);
            }
            encrypt.processBlock(block, 0, out, outOff + i);
            System.arraycopy(out, outOff + i, chain, 0, BLOCK_SIZE);
        }
    }

    @Override
    public void decryptCbc(byte[] in, int inOff, int len, byte[] out, int outOff) {
        for (int i = 0; i < len; i += BLOCK_SIZE) {
            decrypt.processBlock(in, inOff + i, out, outOff + i);
            if (i > 0) {
                for (int j = 0; j < BLOCK_SIZE; j++) {
                    out[outOff + i + j] ^= in[inOff + i - BLOCK_SIZE + j];
                }
            }
        }
    }

    /** Re-keys both engines with zeros, overwriting the schedules where the engine reuses its arrays. */
    @Override
    public void destroy() {
        byte[] zero = new byte[32];
        encrypt.init(true, new KeyParameter(zero));
        decrypt.init(false, new KeyParameter(zero));
        Arrays.fill(chain, (byte) 0);
        Arrays.fill(block, (byte) 0);
    }
}

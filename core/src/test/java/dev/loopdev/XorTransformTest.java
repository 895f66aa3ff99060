package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class XorTransformTest {

    /** Linux's transfer_xor, transcribed: the oracle. */
    private static byte[] linuxTransferXor(byte[] in, byte[] key) {
        byte[] out = new byte[in.length];
        for (int i = 0; i < in.length; i++) {
            out[i] = (byte) (in[i] ^ key[(i & 511) % key.length]);
        }
        return out;
    }

    @Test
    void matchesLinuxTransferXorForEveryKeyLength() {
        Random rnd = new Random(42);
        for (int keyLen = 1; keyLen <= XorTransform.MAX_KEY_BYTES; keyLen++) {
            byte[] key = new byte[keyLen];
            rnd.nextBytes(key);
            byte[] plain = new byte[4 * 512];
            rnd.nextBytes(plain);
            byte[] expected = linuxTransferXor(plain, key);
            XorTransform t = new XorTransform(key);
            ByteBuffer raw = ByteBuffer.allocateDirect(plain.length);
            t.encode(ByteBuffer.wrap(plain), raw, 12345);
            byte[] got = new byte[plain.length];
            raw.flip().get(got);
            assertArrayEquals(expected, got, "key length " + keyLen);
            ByteBuffer back = ByteBuffer.allocate(plain.length);
            t.decode(ByteBuffer.wrap(got), back, 12345);
            assertArrayEquals(plain, back.array(), "decode, key length " + keyLen);
        }
    }

    @Test
    void knownAnswer() {
        // key "ab": sector bytes 0..511 alternate 'a','b'; 512 % 2 == 0, so sector 2 starts with 'a' again.
        byte[] key = {'a', 'b', 'c'};
        byte[] zeros = new byte[1024];
        ByteBuffer raw = ByteBuffer.allocate(1024);
        new XorTransform(key).encode(ByteBuffer.wrap(zeros), raw, 0);
        byte[] r = raw.array();
        assertArrayEquals(new byte[] {'a', 'b', 'c', 'a'}, java.util.Arrays.copyOfRange(r, 0, 4));
        // 511 % 3 == 1: the first sector ends on 'b', and the key restarts at 'a' with the next sector
        assertArrayEquals(new byte[] {'b', 'a', 'b'}, java.util.Arrays.copyOfRange(r, 511, 514));
    }

    @Test
    void inPlaceOnOneBuffer() {
        byte[] key = {1, 2, 3, 4, 5};
        byte[] data = new byte[512];
        new Random(1).nextBytes(data);
        ByteBuffer b = ByteBuffer.wrap(data.clone());
        new XorTransform(key).encode(b.duplicate(), b.duplicate(), 0);
        assertArrayEquals(linuxTransferXor(data, key), b.array());
    }

    @Test
    void refusesEmptyAndOversizedKeys() {
        assertThrows(IllegalArgumentException.class, () -> new XorTransform(new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> new XorTransform(new byte[33]));
    }
}

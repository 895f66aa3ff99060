package dev.loopdev.e2e;

/** The loop driver's transfer_xor over a whole in-memory image, with {@link FuseStack#XOR_KEY}: its own inverse. */
final class FuseXor {
    private FuseXor() {
    }

    static byte[] encode(byte[] plain) {
        byte[] out = plain.clone();
        byte[] key = FuseStack.XOR_KEY;
        for (int i = 0; i < out.length; i++) {
            out[i] ^= key[(i & 511) % key.length];
        }
        return out;
    }

    static byte[] decode(byte[] raw) {
        return encode(raw);
    }
}

package dev.loopdev;

import java.nio.ByteBuffer;

/**
 * A length-preserving transform between what the device's user sees ("plain") and what the backing file holds
 * ("raw"), keyed by 512-byte sector, like the loop driver's {@code transfer_*} functions.
 *
 * <p>Calls always cover whole 512-byte sectors: {@code remaining()} is a multiple of {@link #SECTOR_SIZE} and
 * {@code sector} is the IV number of the first one, counted from the start of the backing file (the device
 * offset included, as cryptoloop counted it). Both buffers advance by the length transformed. {@code raw} and
 * {@code plain} are distinct buffer objects, but they may be views of the same memory (in-place), and
 * implementations must allow that.
 *
 * <p>Implementations are immutable and thread-safe.
 */
public interface Transform extends AutoCloseable {
    int SECTOR_SIZE = 512;

    /** plain → raw, for writing. */
    void encode(ByteBuffer plain, ByteBuffer raw, long sector);

    /** raw → plain, for reading. */
    void decode(ByteBuffer raw, ByteBuffer plain, long sector);

    /** True for the identity, which lets the write paths copy without a bounce buffer and allows holes. */
    default boolean isIdentity() {
        return false;
    }

    /** A short name for logs, e.g. {@code xor} or {@code aes-cbc-plain}; never key material. */
    String name();

    /** Wipes key material. */
    @Override
    default void close() {
    }

    /** The identity: the loop driver's {@code transfer_none}. */
    Transform NONE = new Transform() {
        @Override
        public void encode(ByteBuffer plain, ByteBuffer raw, long sector) {
            copy(plain, raw);
        }

        @Override
        public void decode(ByteBuffer raw, ByteBuffer plain, long sector) {
            copy(raw, plain);
        }

        private void copy(ByteBuffer from, ByteBuffer to) {
            int n = from.remaining();
            to.put(to.position(), from, from.position(), n);
            to.position(to.position() + n);
            from.position(from.position() + n);
        }

        @Override
        public boolean isIdentity() {
            return true;
        }

        @Override
        public String name() {
            return "none";
        }
    };
}

package dev.loopdev;

import java.nio.ByteBuffer;

/**
 * A length-preserving transform between what the device's user sees ("plain") and what the backing file holds
 * ("raw"), keyed by sector, like the loop driver's {@code transfer_*} functions.
 *
 * <p>A transform works on whole units of {@link #sectorSize()} bytes: 512, or up to 4096 for a LUKS2 image made
 * with {@code --sector-size}, as dm-crypt's {@code sector_size}. Calls cover whole units at file positions that are
 * multiples of the unit: {@code remaining()} is a multiple of {@code sectorSize()}, and {@code sector} is the file
 * position of the first byte in 512-byte sectors, counted from the start of the backing file (the device offset
 * included, as cryptoloop counted it). The sector number stays in 512-byte units whatever the unit, because that
 * is how dm-crypt numbers its IVs unless told {@code iv_large_sectors}. Both buffers advance by the length
 * transformed. {@code raw} and {@code plain} are distinct buffer objects, but they may be views of the same memory
 * (in-place), and implementations must allow that.
 *
 * <p>Implementations are immutable and thread-safe.
 */
public interface Transform extends AutoCloseable {
    int SECTOR_SIZE = 512;

    /** plain → raw, for writing. */
    void encode(ByteBuffer plain, ByteBuffer raw, long sector);

    /** raw → plain, for reading. */
    void decode(ByteBuffer raw, ByteBuffer plain, long sector);

    /**
     * The {@code sector} argument for a call that starts at {@code filePosition} of the backing file: the one
     * numbering every write path, and the offline conversion, use.
     */
    static long sectorAt(long filePosition) {
        return filePosition / SECTOR_SIZE;
    }

    /** The unit a call covers whole, in bytes: a power of two from 512 to 4096. */
    default int sectorSize() {
        return SECTOR_SIZE;
    }

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

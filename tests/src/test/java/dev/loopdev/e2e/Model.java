package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * What the test knows a region of the export holds: its bytes, sector by sector, or that a sector is unknown
 * (trimmed, or written by a request whose acknowledgement the test never waited for). Offsets are the export's.
 */
final class Model {
    static final int SECTOR = 512;

    final long base;
    final byte[] bytes;
    private final boolean[] unknown;

    Model(long base, int length) {
        this.base = base;
        this.bytes = new byte[length];
        this.unknown = new boolean[(length + SECTOR - 1) / SECTOR];
    }

    long end() {
        return base + bytes.length;
    }

    synchronized void write(long offset, byte[] data) {
        int at = index(offset, data.length);
        System.arraycopy(data, 0, bytes, at, data.length);
        // Only a whole sector written becomes known again: a partial write over an unknown sector stays unknown.
        for (int s = (at + SECTOR - 1) / SECTOR; (s + 1) * SECTOR <= at + data.length; s++) {
            unknown[s] = false;
        }
    }

    synchronized void zero(long offset, int length) {
        write(offset, new byte[length]);
    }

    synchronized void forget(long offset, int length) {
        int at = index(offset, length);
        for (int s = at / SECTOR; s * SECTOR < at + length; s++) {
            unknown[s] = true;
        }
    }

    synchronized byte[] expected(long offset, int length) {
        byte[] out = new byte[length];
        System.arraycopy(bytes, index(offset, length), out, 0, length);
        return out;
    }

    /** Fails, naming the first differing byte, unless {@code actual} is what the model holds (unknown aside). */
    synchronized void assertMatches(long offset, byte[] actual, String what) {
        int at = index(offset, actual.length);
        for (int i = 0; i < actual.length; i++) {
            if (!unknown[(at + i) / SECTOR] && actual[i] != bytes[at + i]) {
                fail(String.format("%s: byte at export offset %d is 0x%02x, expected 0x%02x", what, offset + i,
                        actual[i] & 0xff, bytes[at + i] & 0xff));
            }
        }
    }

    private int index(long offset, int length) {
        if (offset < base || offset + length > end()) {
            throw new IllegalArgumentException("[" + offset + ", +" + length + ") is outside the model");
        }
        return (int) (offset - base);
    }
}

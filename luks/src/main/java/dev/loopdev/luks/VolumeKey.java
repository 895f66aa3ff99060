package dev.loopdev.luks;

import java.util.Arrays;

/**
 * A LUKS volume key, unlocked from a keyslot or made by {@code format}. Closing it wipes the bytes; it never
 * prints them.
 */
public final class VolumeKey implements AutoCloseable {
    private final byte[] key;
    private final int slot;

    VolumeKey(byte[] key, int slot) {
        this.key = key;
        this.slot = slot;
    }

    /** The key bytes themselves: the caller copies what it needs and must not keep this array. */
    public byte[] bytes() {
        return key;
    }

    public int length() {
        return key.length;
    }

    /** The keyslot it was unlocked from, or -1 for a key that was not (a new volume's). */
    public int slot() {
        return slot;
    }

    @Override
    public void close() {
        Arrays.fill(key, (byte) 0);
    }

    @Override
    public String toString() {
        return "VolumeKey[" + key.length * 8 + " bits]";
    }
}

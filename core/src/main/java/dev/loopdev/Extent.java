package dev.loopdev;

/**
 * A run of the device with one allocation state, as NBD's {@code base:allocation} context describes it.
 *
 * @param offset where the run starts, in device bytes
 * @param length its length in bytes
 * @param hole   no storage is allocated (reads see zeros unless a transform is on)
 * @param zero   it reads as zeros
 */
public record Extent(long offset, long length, boolean hole, boolean zero) {
}

package dev.loopdev;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What {@code losetup} would be told: the backing file, the window of it that is the device, and how to write.
 *
 * @param file           the backing file
 * @param offsetBytes    where the device starts in the file ({@code losetup --offset})
 * @param sizeLimitBytes the device's size at most, 0 for "up to the end of the file" ({@code --sizelimit})
 * @param readOnly       refuse writes; a file that cannot be opened for writing is attached read-only anyway
 * @param blockSize      logical block size: 512, 1024, 2048 or 4096
 * @param writePath      mapped, positional, or auto (probe)
 * @param transform      what the backing file holds relative to what the user sees
 */
public record LoopConfig(Path file, long offsetBytes, long sizeLimitBytes, boolean readOnly, int blockSize,
                         WritePathKind writePath, Transform transform) {

    public LoopConfig {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(writePath, "writePath");
        Objects.requireNonNull(transform, "transform");
        if (offsetBytes < 0) {
            throw new IllegalArgumentException("offset must not be negative");
        }
        if (sizeLimitBytes < 0) {
            throw new IllegalArgumentException("size limit must not be negative");
        }
        if (blockSize < 512 || blockSize > 4096 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be 512, 1024, 2048 or 4096, not " + blockSize);
        }
    }

    public static LoopConfig of(Path file) {
        return new LoopConfig(file, 0, 0, false, 512, WritePathKind.AUTO, Transform.NONE);
    }

    public LoopConfig withOffset(long v) {
        return new LoopConfig(file, v, sizeLimitBytes, readOnly, blockSize, writePath, transform);
    }

    public LoopConfig withSizeLimit(long v) {
        return new LoopConfig(file, offsetBytes, v, readOnly, blockSize, writePath, transform);
    }

    public LoopConfig withReadOnly(boolean v) {
        return new LoopConfig(file, offsetBytes, sizeLimitBytes, v, blockSize, writePath, transform);
    }

    public LoopConfig withBlockSize(int v) {
        return new LoopConfig(file, offsetBytes, sizeLimitBytes, readOnly, v, writePath, transform);
    }

    public LoopConfig withWritePath(WritePathKind v) {
        return new LoopConfig(file, offsetBytes, sizeLimitBytes, readOnly, blockSize, v, transform);
    }

    public LoopConfig withTransform(Transform v) {
        return new LoopConfig(file, offsetBytes, sizeLimitBytes, readOnly, blockSize, writePath, v);
    }
}

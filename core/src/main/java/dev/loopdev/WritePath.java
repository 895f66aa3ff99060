package dev.loopdev;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * How bytes move between a request and the backing file, at file positions. The loop driver had the same two:
 * through the page cache with prepare/commit when the file system offered it, and through {@code ->write}
 * otherwise.
 *
 * <p>Callers ({@link LoopDevice}) hold the range locks, and with a non-identity transform pass whole units of it
 * ({@link Transform#sectorSize}) at positions aligned to them.
 */
sealed interface WritePath permits MappedPages, PositionalWrites {

    WritePathKind kind();

    /** Reads {@code dst.remaining()} bytes at {@code pos}, decoding them. */
    void read(ByteBuffer dst, long pos, Transform t) throws IOException;

    /** Writes {@code src.remaining()} bytes at {@code pos}, encoding them. */
    void write(ByteBuffer src, long pos, Transform t) throws IOException;

    /** Makes the range durable (FUA). */
    void force(long pos, long length) throws IOException;

    /** Makes everything written so far durable (FLUSH). */
    void flush() throws IOException;

    /** The range's blocks were released underneath (a punched hole): forget what was known about them. */
    default void released(long pos, long length) {
    }

    /** The mapped path could not map the file (ENODEV and the like); the device degrades to positional writes. */
    final class MappingFailedException extends IOException {
        MappingFailedException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}

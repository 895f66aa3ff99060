package dev.loopdev.transforms;

import dev.loopdev.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Offline conversion through devices: every byte is read from one {@link BlockDevice} and written to another, so
 * the sector numbers, the IVs and the alignment are whatever the devices say (a LUKS image's data segment, a plain
 * file), and no conversion code does sector arithmetic of its own.
 */
public final class DeviceCopy {
    static final int CHUNK_BYTES = 1 << 20;
    private static final int ZERO_SKIP_BYTES = 4096;

    private DeviceCopy() {
    }

    /**
     * Copies the first {@code length} bytes of {@code from} to {@code to}, then flushes {@code to}. With
     * {@code skipZeros}, 4 KiB blocks that read as zeros are not written: {@code to} must then read as zeros where it
     * is not written (a fresh sparse file), and gets its holes back.
     */
    public static void copy(BlockDevice from, BlockDevice to, long length, boolean skipZeros,
                            ImageConverter.Progress progress) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK_BYTES);
        for (long pos = 0; pos < length; pos += CHUNK_BYTES) {
            int len = (int) Math.min(CHUNK_BYTES, length - pos);
            from.read(buf.clear().limit(len), pos);
            buf.flip();
            if (!skipZeros) {
                to.write(buf, pos, false);
            } else {
                for (int at = 0; at < len; at += ZERO_SKIP_BYTES) {
                    int n = Math.min(ZERO_SKIP_BYTES, len - at);
                    ByteBuffer block = buf.duplicate().position(at).limit(at + n);
                    if (!isZero(block)) {
                        to.write(block, pos + at, false);
                    }
                }
            }
            progress.update(pos + len, length);
        }
        to.flush();
    }

    private static boolean isZero(ByteBuffer b) {
        int i = b.position();
        for (; i + Long.BYTES <= b.limit(); i += Long.BYTES) {
            if (b.getLong(i) != 0) {
                return false;
            }
        }
        for (; i < b.limit(); i++) {
            if (b.get(i) != 0) {
                return false;
            }
        }
        return true;
    }
}

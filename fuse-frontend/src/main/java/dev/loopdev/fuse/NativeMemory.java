package dev.loopdev.fuse;

import java.nio.ByteBuffer;
import jnr.ffi.Struct;
import ru.serce.jnrfuse.struct.FuseFileInfo;

/**
 * Native memory that libfuse hands us, seen from Java without copying.
 *
 * <p>A read or write buffer becomes a direct {@link ByteBuffer} over libfuse's own memory (JNA's
 * {@code NewDirectByteBuffer}), so the device reads straight into the buffer libfuse replies from and writes
 * straight from the buffer libfuse received into: no per-request {@code byte[]}, no extra copy.
 */
final class NativeMemory {
    /**
     * Offset of the bitfield word in libfuse 2.9's {@code struct fuse_file_info} on LP64 ({@code fuse_common.h}):
     * {@code int flags} at 0, {@code unsigned long fh_old} at 8, {@code int writepage} at 16, then
     * {@code direct_io:1, keep_cache:1, flush:1, nonseekable:1, flock_release:1, padding:27} in one
     * {@code unsigned int} at 20, allocated from the least significant bit. jnr-fuse maps these bits as padding of
     * the wrong width, so we set them by hand.
     */
    static final int FILE_INFO_BITS_OFFSET = 20;
    static final int DIRECT_IO_BIT = 1;

    private NativeMemory() {
    }

    /** The {@code size} bytes at {@code buf} as a direct buffer, position 0, limit {@code size}. */
    static ByteBuffer wrap(jnr.ffi.Pointer buf, int size) {
        return new com.sun.jna.Pointer(buf.address()).getByteBuffer(0, size);
    }

    /**
     * Asks the kernel to send this open file's reads and writes to us as they come (FOPEN_DIRECT_IO): no page cache
     * between the caller and the device, request sizes as the caller made them, and no shared mmap (ENODEV).
     */
    static void setDirectIo(FuseFileInfo fi) {
        jnr.ffi.Pointer mem = Struct.getMemory(fi);
        mem.putInt(FILE_INFO_BITS_OFFSET, mem.getInt(FILE_INFO_BITS_OFFSET) | DIRECT_IO_BIT);
    }

    /** The open flags (O_ACCMODE, O_SYNC, ...): {@code int flags} at offset 0, which jnr-fuse maps correctly. */
    static int openFlags(FuseFileInfo fi) {
        return fi.flags.get();
    }
}

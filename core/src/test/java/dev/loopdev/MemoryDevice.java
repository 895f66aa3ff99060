package dev.loopdev;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A block device in memory, nbdkit's memory plugin: for frontend tests that need a device and no file. Trimmed
 * and zeroed ranges read as zeros; every zeroing is cheap, so FAST_ZERO always succeeds.
 */
public final class MemoryDevice implements BlockDevice {
    private final byte[] bytes;
    private final boolean readOnly;
    private volatile boolean closed;

    public MemoryDevice(int sizeBytes) {
        this(new byte[sizeBytes], false);
    }

    /** A device over {@code bytes} itself (not a copy), so a test can look at what was written. */
    public MemoryDevice(byte[] bytes, boolean readOnly) {
        this.bytes = bytes;
        this.readOnly = readOnly;
    }

    @Override
    public long size() {
        return bytes.length;
    }

    @Override
    public int blockSize() {
        return 512;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public boolean canTrim() {
        return !readOnly;
    }

    @Override
    public synchronized void read(ByteBuffer dst, long offset) throws IOException {
        int n = dst.remaining();
        check(offset, n);
        dst.put(bytes, (int) offset, n);
    }

    @Override
    public synchronized void write(ByteBuffer src, long offset, boolean fua) throws IOException {
        int n = src.remaining();
        check(offset, n);
        checkWritable();
        src.get(bytes, (int) offset, n);
    }

    @Override
    public void flush() throws IOException {
        check(0, 0);
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        writeZeroes(offset, length, fua, true);
    }

    @Override
    public synchronized void writeZeroes(long offset, long length, boolean fua, boolean mayTrim) throws IOException {
        check(offset, length);
        checkWritable();
        Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
    }

    @Override
    public void writeZeroesFast(long offset, long length, boolean fua, boolean mayTrim) throws IOException {
        writeZeroes(offset, length, fua, mayTrim);
    }

    private void check(long offset, long length) throws BlockDeviceException {
        if (closed) {
            throw new BlockDeviceException(Errno.ESHUTDOWN, "the device is closed");
        }
        assert offset >= 0 && length >= 0 && offset + length <= bytes.length
                : "unvalidated request [" + offset + ", +" + length + ")";
    }

    @Override
    public void close() {
        closed = true;
    }
}

package dev.loopdev;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/** A decorator that passes everything to the device below, the shape of an nbdkit filter calling {@code next}. */
public abstract class ForwardingBlockDevice implements BlockDevice {
    protected final BlockDevice next;

    protected ForwardingBlockDevice(BlockDevice next) {
        this.next = next;
    }

    @Override
    public long size() {
        return next.size();
    }

    @Override
    public int blockSize() {
        return next.blockSize();
    }

    @Override
    public boolean isReadOnly() {
        return next.isReadOnly();
    }

    @Override
    public boolean canTrim() {
        return next.canTrim();
    }

    @Override
    public void read(ByteBuffer dst, long offset) throws IOException {
        next.read(dst, offset);
    }

    @Override
    public void write(ByteBuffer src, long offset, boolean fua) throws IOException {
        next.write(src, offset, fua);
    }

    @Override
    public void flush() throws IOException {
        next.flush();
    }

    @Override
    public void arrived() {
        next.arrived();
    }

    /** Forwards: a decorator that changes or checks the bytes themselves must return null here instead. */
    @Override
    public Lent lendForRead(long offset, int length) throws IOException {
        return next.lendForRead(offset, length);
    }

    /** Forwards: a decorator that changes or checks the bytes themselves must return null here instead. */
    @Override
    public LentForWrite lendForWrite(long offset, int length) throws IOException {
        return next.lendForWrite(offset, length);
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        next.trim(offset, length, fua);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua, boolean mayTrim) throws IOException {
        next.writeZeroes(offset, length, fua, mayTrim);
    }

    @Override
    public void writeZeroesFast(long offset, long length, boolean fua, boolean mayTrim) throws IOException {
        next.writeZeroesFast(offset, length, fua, mayTrim);
    }

    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        return next.extents(offset, length);
    }

    @Override
    public void close() throws IOException {
        next.close();
    }
}

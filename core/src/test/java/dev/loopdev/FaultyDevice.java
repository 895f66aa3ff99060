package dev.loopdev;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A decorator that fails the operations it is told to, nbdkit's error filter: every call of an operation, or only
 * those that touch chosen byte ranges (a bad stretch of disk, a region that is out of space). For tests of what a
 * frontend answers when the device fails, and, under a FUSE mount, of what loopdev does when its backing file
 * fails. A failing call changes nothing below it. The failure is any {@link IOException}, {@link RuntimeException}
 * or {@link Error} (a mapped page's fault arrives as an {@link InternalError}).
 */
public final class FaultyDevice extends ForwardingBlockDevice {
    /** The operations that can be made to fail. */
    public enum Op { READ, WRITE, FLUSH, TRIM, ZERO, ZERO_FAST, EXTENTS }

    private final Map<Op, Supplier<? extends Throwable>> faults = new ConcurrentHashMap<>();
    private final Map<Op, AtomicInteger> injected = new ConcurrentHashMap<>();
    private final List<Range> ranges = new CopyOnWriteArrayList<>();

    private record Range(Op op, long offset, long end, Errno errno) {
        boolean overlaps(Op o, long from, long length) {
            return o == op && from < end && offset < from + length;
        }
    }

    public FaultyDevice(BlockDevice next) {
        super(next);
    }

    /**
     * Every later {@code op} fails with a fresh {@code error.get()}, until {@link #heal}; a call for which the
     * supplier returns null goes through (an error rate, say).
     */
    public FaultyDevice fail(Op op, Supplier<? extends Throwable> error) {
        faults.put(op, error);
        return this;
    }

    /** Every later {@code op} fails with a {@link BlockDeviceException} carrying {@code errno}. */
    public FaultyDevice fail(Op op, Errno errno) {
        return fail(op, () -> new BlockDeviceException(errno, "injected " + errno + " on " + op));
    }

    /**
     * Every later {@code op} that touches {@code [offset, offset + length)} fails with {@code errno}, until
     * {@link #heal}; the rest go through.
     */
    public FaultyDevice failAt(Op op, long offset, long length, Errno errno) {
        ranges.add(new Range(op, offset, offset + length, errno));
        return this;
    }

    public void heal() {
        faults.clear();
        ranges.clear();
    }

    /** How many failures were injected into {@code op}. */
    public int injected(Op op) {
        AtomicInteger n = injected.get(op);
        return n == null ? 0 : n.get();
    }

    private void maybeFail(Op op, long offset, long length) throws IOException {
        for (Range r : ranges) {
            if (r.overlaps(op, offset, length)) {
                injected.computeIfAbsent(op, o -> new AtomicInteger()).incrementAndGet();
                throw new BlockDeviceException(r.errno(), "injected " + r.errno() + " on " + op + " [" + offset
                        + ", +" + length + "), which touches [" + r.offset() + ", " + r.end() + ")");
            }
        }
        maybeFail(op);
    }

    private void maybeFail(Op op) throws IOException {
        Supplier<? extends Throwable> fault = faults.get(op);
        Throwable t = fault == null ? null : fault.get();
        if (t == null) {
            return;
        }
        injected.computeIfAbsent(op, o -> new AtomicInteger()).incrementAndGet();
        if (t instanceof IOException e) {
            throw e;
        }
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalArgumentException("not a failure a device can raise: " + t);
    }

    @Override
    public void read(ByteBuffer dst, long offset) throws IOException {
        maybeFail(Op.READ, offset, dst.remaining());
        super.read(dst, offset);
    }

    @Override
    public void write(ByteBuffer src, long offset, boolean fua) throws IOException {
        maybeFail(Op.WRITE, offset, src.remaining());
        super.write(src, offset, fua);
    }

    @Override
    public Lent lendForRead(long offset, int length) throws IOException {
        maybeFail(Op.READ);
        return super.lendForRead(offset, length);
    }

    @Override
    public LentForWrite lendForWrite(long offset, int length) throws IOException {
        maybeFail(Op.WRITE);
        return super.lendForWrite(offset, length);
    }

    @Override
    public void flush() throws IOException {
        maybeFail(Op.FLUSH);
        super.flush();
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        maybeFail(Op.TRIM, offset, length);
        super.trim(offset, length, fua);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua, boolean mayTrim) throws IOException {
        maybeFail(Op.ZERO, offset, length);
        super.writeZeroes(offset, length, fua, mayTrim);
    }

    @Override
    public void writeZeroesFast(long offset, long length, boolean fua, boolean mayTrim) throws IOException {
        maybeFail(Op.ZERO_FAST, offset, length);
        super.writeZeroesFast(offset, length, fua, mayTrim);
    }

    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        maybeFail(Op.EXTENTS, offset, length);
        return super.extents(offset, length);
    }
}

package dev.loopdev;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/** Counts requests, bytes and errors per command, like nbdkit's stats filter. Cheap enough for the fast path. */
public final class StatisticsDevice extends ForwardingBlockDevice {

    /** The commands counted. */
    public enum Op { READ, WRITE, FLUSH, TRIM, ZERO, EXTENTS }

    private final LongAdder[] requests = adders();
    private final LongAdder[] bytes = adders();
    private final LongAdder[] errors = adders();
    private final long startNanos = System.nanoTime();

    public StatisticsDevice(BlockDevice next) {
        super(next);
    }

    private static LongAdder[] adders() {
        LongAdder[] a = new LongAdder[Op.values().length];
        for (int i = 0; i < a.length; i++) {
            a[i] = new LongAdder();
        }
        return a;
    }

    private interface Call {
        void run() throws IOException;
    }

    private void count(Op op, long n, Call call) throws IOException {
        requests[op.ordinal()].increment();
        try {
            call.run();
            bytes[op.ordinal()].add(n);
        } catch (IOException | RuntimeException e) {
            errors[op.ordinal()].increment();
            throw e;
        }
    }

    @Override
    public void read(ByteBuffer dst, long offset) throws IOException {
        count(Op.READ, dst.remaining(), () -> next.read(dst, offset));
    }

    @Override
    public void write(ByteBuffer src, long offset, boolean fua) throws IOException {
        count(Op.WRITE, src.remaining(), () -> next.write(src, offset, fua));
    }

    @Override
    public void flush() throws IOException {
        count(Op.FLUSH, 0, next::flush);
    }

    /** A lent range counts as the READ it serves; when nothing is lent the caller's read() counts instead. */
    @Override
    public Lent lendForRead(long offset, int length) throws IOException {
        Lent[] out = new Lent[1];
        countLent(Op.READ, length, () -> out[0] = next.lendForRead(offset, length), () -> out[0] != null);
        return out[0];
    }

    /** As {@link #lendForRead}, for the WRITE whose payload the range receives. */
    @Override
    public LentForWrite lendForWrite(long offset, int length) throws IOException {
        LentForWrite[] out = new LentForWrite[1];
        countLent(Op.WRITE, length, () -> out[0] = next.lendForWrite(offset, length), () -> out[0] != null);
        return out[0];
    }

    private void countLent(Op op, long n, Call call, java.util.function.BooleanSupplier lent) throws IOException {
        try {
            call.run();
        } catch (IOException | RuntimeException e) {
            requests[op.ordinal()].increment();
            errors[op.ordinal()].increment();
            throw e;
        }
        if (lent.getAsBoolean()) {
            requests[op.ordinal()].increment();
            bytes[op.ordinal()].add(n);
        }
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        count(Op.TRIM, length, () -> next.trim(offset, length, fua));
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua, boolean mayTrim) throws IOException {
        count(Op.ZERO, length, () -> next.writeZeroes(offset, length, fua, mayTrim));
    }

    @Override
    public void writeZeroesFast(long offset, long length, boolean fua, boolean mayTrim) throws IOException {
        count(Op.ZERO, length, () -> next.writeZeroesFast(offset, length, fua, mayTrim));
    }

    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        @SuppressWarnings("unchecked")
        List<Extent>[] out = new List[1];
        count(Op.EXTENTS, length, () -> out[0] = next.extents(offset, length));
        return out[0];
    }

    public long requests(Op op) {
        return requests[op.ordinal()].sum();
    }

    public long bytes(Op op) {
        return bytes[op.ordinal()].sum();
    }

    public long errors(Op op) {
        return errors[op.ordinal()].sum();
    }

    /** A few lines in the manner of nbdkit's stats filter. */
    public String report() {
        double secs = Math.max((System.nanoTime() - startNanos) / 1e9, 1e-9);
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "elapsed time: %.3f s%n", secs));
        for (Op op : Op.values()) {
            long r = requests(op);
            if (r == 0) {
                continue;
            }
            long b = bytes(op);
            sb.append(String.format(Locale.ROOT, "%-7s %d ops, %d errors, %d bytes (%.2f MiB/s)%n",
                    op.name().toLowerCase(Locale.ROOT) + ":", r, errors(op), b, b / secs / (1 << 20)));
        }
        return sb.toString();
    }
}

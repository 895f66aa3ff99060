package dev.loopdev.ublk;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The submission and completion rings of one io_uring, over the memory the kernel shares with us: the producer of
 * each ring publishes its tail with a release store after writing the entries, and the consumer reads that tail with
 * an acquire load before reading them; heads go the other way. Head and tail are free-running 32-bit counters (only
 * {@code counter & mask} indexes the ring), so every comparison is a wrapping subtraction.
 *
 * <p>One thread owns a ring: nothing here is synchronised, because the kernel is the only other party and the
 * acquire/release pairs are the whole protocol with it.
 */
final class Ring {
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.nativeOrder());

    /** Where the kernel put each field, from io_uring_params (sq_off, cq_off). */
    record Layout(int sqHead, int sqTail, int sqMask, int sqEntries, int sqArray,
                  int cqHead, int cqTail, int cqMask, int cqEntries, int cqes, int sqeSize, int cqeSize) {
    }

    private final ByteBuffer sq;
    private final ByteBuffer cq;
    private final ByteBuffer sqes;
    private final Layout at;
    private final int sqMask;
    private final int sqEntries;
    private final int cqMask;
    private int sqTail; // ours: published by submit()
    private int cqHead; // ours: published by advance()

    /** {@code sq}, {@code cq} and {@code sqes} are direct buffers in native order (acquire/release need them). */
    Ring(ByteBuffer sq, ByteBuffer cq, ByteBuffer sqes, Layout at) {
        this.sq = sq.order(ByteOrder.nativeOrder());
        this.cq = cq.order(ByteOrder.nativeOrder());
        this.sqes = sqes.order(ByteOrder.nativeOrder());
        this.at = at;
        this.sqMask = sq.getInt(at.sqMask());
        this.sqEntries = sq.getInt(at.sqEntries());
        this.cqMask = cq.getInt(at.cqMask());
        this.sqTail = (int) INT.getAcquire(sq, at.sqTail());
        this.cqHead = (int) INT.getAcquire(cq, at.cqHead());
        // Slot i of the ring always holds SQE i: we fill SQEs in ring order, so the indirection array is fixed.
        for (int i = 0; i < sqEntries; i++) {
            sq.putInt(at.sqArray() + 4 * i, i);
        }
    }

    int sqEntries() {
        return sqEntries;
    }

    /** The SQE array, for {@link #nextSqe}'s offsets. */
    ByteBuffer sqes() {
        return sqes;
    }

    /** SQEs written and not yet taken by the kernel: after {@link #submit}, what io_uring_enter should submit. */
    int sqPending() {
        return sqTail - (int) INT.getAcquire(sq, at.sqHead());
    }

    /**
     * Claims the next SQE and zeroes it; returns its byte offset in {@link #sqes()}, or -1 when the ring is full
     * (the kernel has not taken enough of what was submitted).
     */
    int nextSqe() {
        if (sqPending() >= sqEntries) {
            return -1;
        }
        int offset = (sqTail & sqMask) * at.sqeSize();
        for (int i = 0; i < at.sqeSize(); i += 8) {
            sqes.putLong(offset + i, 0L);
        }
        sqTail++;
        return offset;
    }

    /** Publishes every SQE written so far: the release store orders their bytes before the new tail. */
    void submit() {
        INT.setRelease(sq, at.sqTail(), sqTail);
    }

    /** Completions the kernel has posted and we have not consumed. */
    int cqReady() {
        return (int) INT.getAcquire(cq, at.cqTail()) - cqHead;
    }

    private int cqe(int i) {
        return at.cqes() + ((cqHead + i) & cqMask) * at.cqeSize();
    }

    /** user_data of the {@code i}th ready completion (0 is the oldest). */
    long userData(int i) {
        return cq.getLong(cqe(i));
    }

    /** res of the {@code i}th ready completion. */
    int result(int i) {
        return cq.getInt(cqe(i) + 8);
    }

    /** Hands {@code n} completions back to the kernel: after this their slots may be overwritten. */
    void advance(int n) {
        cqHead += n;
        INT.setRelease(cq, at.cqHead(), cqHead);
    }
}

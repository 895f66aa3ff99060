package dev.loopdev.ublk;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.loopdev.Errno;
import java.io.Closeable;
import java.io.IOException;

/**
 * One io_uring instance: io_uring_setup, the rings mapped (one mapping when the kernel has IORING_FEAT_SINGLE_MMAP),
 * and io_uring_enter. What is written into the rings is {@link Ring}'s business.
 */
final class IoUring implements Closeable {
    static final int SETUP_CQSIZE = 1 << 3;
    static final int SETUP_COOP_TASKRUN = 1 << 8;
    static final int SETUP_SQE128 = 1 << 10;
    static final int SETUP_SINGLE_ISSUER = 1 << 12;
    static final int SETUP_DEFER_TASKRUN = 1 << 13;
    static final int FEAT_SINGLE_MMAP = 1;
    static final int ENTER_GETEVENTS = 1;

    static final byte OP_URING_CMD = 46;
    /** Byte offsets inside an SQE (struct io_uring_sqe) that the ublk commands use. */
    static final int SQE_OPCODE = 0;
    static final int SQE_FD = 4;
    static final int SQE_CMD_OP = 8;
    static final int SQE_USER_DATA = 32;
    static final int SQE_CMD = 48;

    private static final long OFF_SQ_RING = 0L;
    private static final long OFF_CQ_RING = 0x8000000L;
    private static final long OFF_SQES = 0x10000000L;
    private static final int PARAMS_SIZE = 120;

    final int fd;
    final Ring ring;
    private final Pointer sqMap;
    private final long sqMapSize;
    private final Pointer cqMap; // null when it is sqMap
    private final long cqMapSize;
    private final Pointer sqesMap;
    private final long sqesMapSize;

    private IoUring(int fd, Ring ring, Pointer sqMap, long sqMapSize, Pointer cqMap, long cqMapSize, Pointer sqesMap,
            long sqesMapSize) {
        this.fd = fd;
        this.ring = ring;
        this.sqMap = sqMap;
        this.sqMapSize = sqMapSize;
        this.cqMap = cqMap;
        this.cqMapSize = cqMapSize;
        this.sqesMap = sqesMap;
        this.sqesMapSize = sqesMapSize;
    }

    /**
     * A ring of {@code entries} submissions and {@code cqEntries} completions, with {@code flags}; the optional
     * task-running modes among them (DEFER_TASKRUN and SINGLE_ISSUER from 6.1, COOP_TASKRUN from 5.19) are dropped
     * when this kernel refuses them.
     */
    static IoUring setup(int entries, int cqEntries, int flags) throws IOException {
        int f = flags | SETUP_CQSIZE;
        int[] tries = {f, f & ~(SETUP_DEFER_TASKRUN | SETUP_SINGLE_ISSUER),
                f & ~(SETUP_DEFER_TASKRUN | SETUP_SINGLE_ISSUER | SETUP_COOP_TASKRUN)};
        for (int i = 0; ; i++) {
            try {
                return setupOnce(entries, cqEntries, tries[i]);
            } catch (LastErrorException e) {
                if (e.getErrorCode() != Errno.EINVAL.code || i + 1 == tries.length) {
                    throw new IOException("io_uring_setup: " + Errno.message(e.getErrorCode()), e);
                }
            }
        }
    }

    private static IoUring setupOnce(int entries, int cqEntries, int flags) {
        Memory p = new Memory(PARAMS_SIZE);
        p.clear();
        p.setInt(4, cqEntries);
        p.setInt(8, flags);
        int fd = Linux.syscall(Linux.SYS_IO_URING_SETUP, entries, p);
        Pointer sqMap = null;
        Pointer cqMap = null;
        Pointer sqesMap = null;
        long sqSize = 0;
        long cqSize = 0;
        long sqesSize = 0;
        try {
            int sqEntries = p.getInt(0);
            int cqN = p.getInt(4);
            int features = p.getInt(20);
            Ring.Layout at = new Ring.Layout(p.getInt(40), p.getInt(44), p.getInt(48), p.getInt(52), p.getInt(64),
                    p.getInt(80), p.getInt(84), p.getInt(88), p.getInt(92), p.getInt(100),
                    (flags & SETUP_SQE128) != 0 ? 128 : 64, 16);
            sqSize = at.sqArray() + 4L * sqEntries;
            cqSize = at.cqes() + (long) cqN * at.cqeSize();
            boolean single = (features & FEAT_SINGLE_MMAP) != 0;
            if (single) {
                sqSize = Math.max(sqSize, cqSize);
            }
            int prot = Linux.PROT_READ | Linux.PROT_WRITE;
            int mapFlags = Linux.MAP_SHARED | Linux.MAP_POPULATE;
            sqMap = Linux.mmap(null, sqSize, prot, mapFlags, fd, OFF_SQ_RING);
            if (!single) {
                cqMap = Linux.mmap(null, cqSize, prot, mapFlags, fd, OFF_CQ_RING);
            }
            sqesSize = (long) sqEntries * at.sqeSize();
            sqesMap = Linux.mmap(null, sqesSize, prot, mapFlags, fd, OFF_SQES);
            Pointer cq = single ? sqMap : cqMap;
            Ring ring = new Ring(sqMap.getByteBuffer(0, sqSize), cq.getByteBuffer(0, single ? sqSize : cqSize),
                    sqesMap.getByteBuffer(0, sqesSize), at);
            return new IoUring(fd, ring, sqMap, sqSize, cqMap, cqSize, sqesMap, sqesSize);
        } catch (RuntimeException e) {
            Linux.unmapQuietly(sqesMap, sqesSize);
            Linux.unmapQuietly(cqMap, cqSize);
            Linux.unmapQuietly(sqMap, sqSize);
            Linux.closeQuietly(fd);
            throw e;
        }
    }

    /**
     * Submits what {@link Ring#submit} published and, with {@code minComplete > 0}, waits for that many
     * completions. Returns the number of SQEs the kernel took; a signal or a full completion queue returns early
     * (with whatever was submitted), and the caller drains and comes back.
     */
    int enter(int minComplete) throws IOException {
        int toSubmit = ring.sqPending();
        try {
            return Linux.syscall(Linux.SYS_IO_URING_ENTER, fd, toSubmit, minComplete,
                    minComplete > 0 ? ENTER_GETEVENTS : 0, null, 0L);
        } catch (LastErrorException e) {
            int errno = e.getErrorCode();
            if (errno == Errno.EINTR.code || errno == Errno.EAGAIN.code || errno == Errno.EBUSY.code) {
                return 0;
            }
            throw new IOException("io_uring_enter: " + Errno.message(errno), e);
        }
    }

    @Override
    public void close() {
        Linux.unmapQuietly(sqesMap, sqesMapSize);
        Linux.unmapQuietly(cqMap, cqMapSize);
        Linux.unmapQuietly(sqMap, sqMapSize);
        Linux.closeQuietly(fd);
    }
}

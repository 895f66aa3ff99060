package dev.loopdev.ublk;

import com.sun.jna.LastErrorException;
import com.sun.jna.Pointer;
import dev.loopdev.Errno;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.logging.Logger;

/**
 * One hardware queue of a ublk device, served by one thread (the driver accepts a queue's commands only from the
 * task that fetched them): its own io_uring, the queue's descriptor array mapped read-only from /dev/ublkcN, and one
 * buffer per tag that the driver copies WRITE data into and READ data out of.
 *
 * <p>The loop, per io_uring_enter: every completion that has arrived is a request (or the device going away);
 * each is served against the device in arrival order and answered by a COMMIT_AND_FETCH_REQ SQE for its tag,
 * and all of those go back in the next io_uring_enter, which also waits for the next requests. A tag has at most
 * one command in the kernel, so a ring of {@code depth} SQEs never fills, and nothing is allocated per request.
 */
final class UblkQueue {
    private static final Logger LOG = Logger.getLogger(UblkQueue.class.getName());

    private final int q;
    private final int depth;
    private final int bufferBytes;
    private final int charFd;
    private final UblkAbi.Encoding encoding;
    private final Requests requests;
    private final boolean userCopy;
    private IoUring uring;
    private Pointer descriptorMap;
    private long descriptorBytes;
    private ByteBuffer descriptors;
    private Pointer bufferMap;
    private ByteBuffer[] buffers;
    private long bufferBase;
    private int liveTags;

    /**
     * With {@code userCopy} (UBLK_F_USER_COPY) the driver copies nothing: WRITE data is read from /dev/ublkcN and
     * READ data written to it, at the tag's offset, around the device call.
     */
    UblkQueue(int q, int depth, int bufferBytes, int charFd, UblkAbi.Encoding encoding, Requests requests,
            boolean userCopy) {
        this.q = q;
        this.userCopy = userCopy;
        this.depth = depth;
        this.bufferBytes = bufferBytes;
        this.charFd = charFd;
        this.encoding = encoding;
        this.requests = requests;
    }

    /**
     * Sets the queue up and fetches every tag; on return the driver counts this queue as ready. Must run on the
     * thread that then calls {@link #serve}.
     */
    void fetchAll() throws IOException {
        int pageSize = Linux.getpagesize();
        uring = IoUring.setup(depth, 2 * depth,
                IoUring.SETUP_COOP_TASKRUN | IoUring.SETUP_SINGLE_ISSUER | IoUring.SETUP_DEFER_TASKRUN);
        try {
            descriptorBytes = UblkAbi.descriptorBytes(depth, pageSize);
            descriptorMap = Linux.mmap(null, descriptorBytes, Linux.PROT_READ, Linux.MAP_SHARED | Linux.MAP_POPULATE,
                    charFd, UblkAbi.descriptorOffset(q, pageSize));
            descriptors = descriptorMap.getByteBuffer(0, descriptorBytes).order(ByteOrder.nativeOrder());
            // Untouched pages cost nothing: a tag's buffer is only as resident as the largest request it served.
            bufferMap = Linux.mmap(null, (long) depth * bufferBytes, Linux.PROT_READ | Linux.PROT_WRITE,
                    Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_NORESERVE, -1, 0);
        } catch (LastErrorException e) {
            close();
            throw new IOException("queue " + q + ": mmap: " + Errno.message(e.getErrorCode()), e);
        }
        bufferBase = Pointer.nativeValue(bufferMap);
        buffers = new ByteBuffer[depth];
        for (int tag = 0; tag < depth; tag++) {
            buffers[tag] = bufferMap.getByteBuffer((long) tag * bufferBytes, bufferBytes);
        }
        Ring r = uring.ring;
        try {
            for (int tag = 0; tag < depth; tag++) {
                queueCommand(UblkAbi.IO_FETCH_REQ, tag, 0);
            }
            r.submit();
            while (r.sqPending() > 0) {
                uring.enter(0);
                if (r.cqReady() > 0) { // a fetch answered at once is a refusal: the device is not ours to serve
                    throw new IOException("queue " + q + ": FETCH_REQ refused: " + Errno.message(-r.result(0)));
                }
            }
        } catch (IOException | RuntimeException e) {
            close(); // closing the ring cancels the fetches that were taken
            throw e;
        }
        liveTags = depth;
    }

    /** Serves requests until the driver has aborted every tag (the device was stopped), then lets go of the queue. */
    void serve() throws IOException {
        Ring r = uring.ring;
        try {
            while (liveTags > 0) {
                uring.enter(1);
                int n = r.cqReady();
                for (int i = 0; i < n; i++) {
                    complete((int) r.userData(i), r.result(i));
                }
                r.advance(n);
                r.submit();
            }
        } finally {
            close();
        }
    }

    private void complete(int tag, int res) {
        if (res == UblkAbi.IO_RES_OK) {
            int at = tag * UblkAbi.IO_DESC_SIZE;
            int opFlags = descriptors.getInt(at);
            int sectors = descriptors.getInt(at + 4);
            int op = opFlags & 0xff;
            int result;
            if (userCopy && op == UblkAbi.OP_WRITE && !copy(tag, sectors << 9, false)) {
                result = -Errno.EIO.code;
            } else {
                result = requests.serve(opFlags, descriptors.getLong(at + 8), sectors, buffers[tag]);
                if (userCopy && op == UblkAbi.OP_READ && result > 0 && !copy(tag, result, true)) {
                    result = -Errno.EIO.code;
                }
            }
            queueCommand(UblkAbi.IO_COMMIT_AND_FETCH_REQ, tag, result);
        } else {
            if (res != UblkAbi.IO_RES_ABORT) {
                LOG.warning("queue " + q + " tag " + tag + ": the driver refused a command: " + Errno.message(-res));
            }
            liveTags--;
        }
    }

    /** User copy: the request's data from the driver into the tag's buffer, or ({@code toDriver}) back. */
    private boolean copy(int tag, int bytes, boolean toDriver) {
        long offset = UblkAbi.userCopyOffset(q, tag);
        try {
            for (int done = 0; done < bytes; ) {
                long address = bufferBase + (long) tag * bufferBytes + done;
                long n = toDriver ? Linux.pwrite(charFd, address, bytes - done, offset + done)
                        : Linux.pread(charFd, address, bytes - done, offset + done);
                if (n <= 0) {
                    LOG.warning("queue " + q + " tag " + tag + ": user copy stopped after " + done + " of " + bytes
                            + " bytes");
                    return false;
                }
                done += (int) n;
            }
            return true;
        } catch (LastErrorException e) {
            LOG.warning("queue " + q + " tag " + tag + ": user copy: " + Errno.message(e.getErrorCode()));
            return false;
        }
    }

    /** One FETCH_REQ or COMMIT_AND_FETCH_REQ for {@code tag}, its buffer given again as the driver wants. */
    private void queueCommand(int nr, int tag, int result) {
        Ring r = uring.ring;
        int sqe = r.nextSqe();
        if (sqe < 0) {
            throw new IllegalStateException("queue " + q + ": submission ring full with one command per tag");
        }
        ByteBuffer s = r.sqes();
        s.put(sqe + IoUring.SQE_OPCODE, IoUring.OP_URING_CMD);
        s.putInt(sqe + IoUring.SQE_FD, charFd);
        s.putInt(sqe + IoUring.SQE_CMD_OP, encoding.io(nr));
        s.putLong(sqe + IoUring.SQE_USER_DATA, tag);
        // The driver wants the buffer again with every command, and none at all under user copy.
        long addr = userCopy ? 0 : bufferBase + (long) tag * bufferBytes;
        UblkAbi.putIoCommand(s, sqe + IoUring.SQE_CMD, q, tag, result, addr);
    }

    private void close() {
        if (uring != null) {
            uring.close();
        }
        Linux.unmapQuietly(descriptorMap, descriptorBytes);
        Linux.unmapQuietly(bufferMap, (long) depth * bufferBytes);
        uring = null;
        descriptorMap = null;
        bufferMap = null;
    }
}

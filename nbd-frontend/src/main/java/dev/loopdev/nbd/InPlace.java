package dev.loopdev.nbd;

import dev.loopdev.BlockDevice;
import dev.loopdev.BufferPool;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.BiFunction;

/**
 * One connection's bytes moved once, where the device lends its pages ({@link BlockDevice#lendForRead}): a READ's
 * reply goes out straight from the file's pages, and a WRITE that runs on the reader is received straight into
 * them. The lent range is held while the bytes move, so only requests that overlap it wait for the client, and a
 * client that leaves a lent range waiting on the network for {@link NbdServer.Tuning#stallMillis} is disconnected
 * by the server ({@link #stalled}).
 */
final class InPlace {
    /**
     * READs from this size up are sent in place. A reply sent in place goes out at once, with its own system call,
     * where smaller replies on the reader ride in the next batch (see {@link ReplyWriter}): for a few KiB that
     * call costs more than the copy it saves.
     */
    static final int READ_BYTES_MIN = Integer.getInteger("loopdev.nbd.inPlaceReadMin", 64 << 10);

    private final BlockDevice device;
    private final SocketInput input;
    private final ReplyWriter replies;
    private final InFlight inFlight;
    private final BufferPool buffers;
    private final BiFunction<Request, Throwable, PendingRequest.Failed> failed;
    /** The reader is receiving a payload into a lent range. */
    private volatile boolean receiving;

    /** @param failed the connection's answer (logged) to a request that failed with an exception */
    InPlace(BlockDevice device, SocketInput input, ReplyWriter replies, InFlight inFlight, BufferPool buffers,
            BiFunction<Request, Throwable, PendingRequest.Failed> failed) {
        this.device = device;
        this.input = input;
        this.replies = replies;
        this.inFlight = inFlight;
        this.buffers = buffers;
        this.failed = failed;
    }

    /**
     * A WRITE, admitted and run on the reader, whose payload goes straight from the socket into the file's pages:
     * seed 000's recvfile done the way its reviewers asked. The device reserves every page and takes the range
     * before a byte is read, so a full file system fails before anything lands (the payload is then read and
     * dropped, and the client told why); only the range itself is held while the payload arrives; a client that
     * vanishes mid-payload leaves its own unacknowledged range holding what arrived, and nothing else. Returns
     * false, having read nothing, where the device lends no pages.
     */
    boolean receive(Request r) throws IOException {
        int bytes = r.payloadBytes();
        BlockDevice.LentForWrite lent;
        try {
            lent = device.lendForWrite(r.offset, bytes);
        } catch (Throwable t) { // the device failed before anything was read: drop the payload, say why
            PendingRequest p = PendingRequest.admitted(r, null, replies, inFlight, buffers, true);
            try {
                input.skip(bytes);
            } catch (IOException e) {
                p.abandon();
                throw e;
            }
            p.answer(failed.apply(r, t));
            return true;
        }
        if (lent == null) {
            return false;
        }
        PendingRequest p = PendingRequest.admitted(r, null, replies, inFlight, buffers, true);
        PendingRequest.Outcome outcome;
        try (lent) {
            receiving = true;
            try {
                for (ByteBuffer b : lent.buffers()) {
                    input.readFully(b);
                }
            } catch (IOException e) {
                p.abandon(); // never acknowledged: the range keeps what arrived, the client cannot have seen it
                throw e;
            } finally {
                receiving = false;
            }
            try {
                lent.commit(false);
                outcome = PendingRequest.OK;
            } catch (Throwable t) {
                outcome = failed.apply(r, t);
            }
        }
        p.answer(outcome);
        return true;
    }

    /**
     * A READ of at least {@link #READ_BYTES_MIN} whose reply goes out straight from the file's pages, held against
     * writes until the kernel has copied them into the socket. Returns false, having answered nothing, where the
     * request is smaller or the device lends no pages.
     */
    boolean send(PendingRequest p) {
        Request r = p.request;
        if (r.length < READ_BYTES_MIN || r.length == 0) {
            return false;
        }
        BlockDevice.Lent lent;
        try {
            lent = device.lendForRead(r.offset, (int) r.length);
        } catch (Throwable t) {
            p.answer(failed.apply(r, t));
            return true;
        }
        if (lent == null) {
            return false;
        }
        try (lent) {
            p.answer(new PendingRequest.Lent(lent.buffers()));
        }
        return true;
    }

    /**
     * Whether a lent range has waited on the network for longer than {@code limitNanos}: a payload that stopped
     * arriving, or a reply the client stopped reading.
     */
    boolean stalled(long now, long limitNanos) {
        return (receiving && input.waitingNanos(now) > limitNanos) || replies.stalledWithLent(now, limitNanos);
    }
}

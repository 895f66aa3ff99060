package dev.loopdev.nbd;

import dev.loopdev.BufferPool;
import dev.loopdev.Extent;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * One request from the moment it was read whole until it is answered: the one completion point of nbdkit's
 * {@code protocol_recv_request_send_reply}. An admitted request owns its payload buffer and its share of the
 * connection's {@link InFlight} bound; {@link #answer} sends the reply (or, for a success on the reader thread,
 * {@linkplain ReplyWriter#defer defers} it into the next batch) and gives both back, exactly once. A refused
 * request holds nothing and is answered the same way. Answering twice is a bug and throws.
 *
 * <p>The one way out without a reply is {@link #abandon}: a WRITE whose payload never arrived whole was never
 * applied, and the connection it came on is gone.
 */
final class PendingRequest {
    /** How a request ended: what its reply says. */
    sealed interface Outcome permits Ok, Data, Lent, Extents, Failed {
    }

    /** Success without data. */
    record Ok() implements Outcome {
    }

    /** A READ's data, position to limit. */
    record Data(ByteBuffer data) implements Outcome {
    }

    /** A READ's data lent by the device in place, valid only until the answer returns: sent at once, whole. */
    record Lent(java.nio.ByteBuffer[] data) implements Outcome {
    }

    /** BLOCK_STATUS for base:allocation. */
    record Extents(List<Extent> extents) implements Outcome {
    }

    /** An error, with the NBD error code and a message for a human. */
    record Failed(int nbdError, String message) implements Outcome {
    }

    static final Outcome OK = new Ok();

    final Request request;
    /** The payload (a WRITE's data, room for a READ's), from the pool; null when the request holds none. */
    final ByteBuffer buffer;
    private final ReplyWriter replies;
    private final InFlight inFlight;
    private final BufferPool buffers;
    private final boolean onReader;
    private boolean answered;
    private boolean released;

    private PendingRequest(Request request, ByteBuffer buffer, ReplyWriter replies, InFlight inFlight,
                           BufferPool buffers, boolean onReader) {
        this.request = request;
        this.buffer = buffer;
        this.replies = replies;
        this.inFlight = inFlight;
        this.buffers = buffers;
        this.onReader = onReader;
    }

    /** A refused request: holds nothing, answered on the reader thread (errors are never deferred). */
    static PendingRequest refused(Request r, ReplyWriter replies) {
        return new PendingRequest(r, null, replies, null, null, true);
    }

    /**
     * An admitted request, already counted in {@code inFlight} for {@code r.payloadBytes()}, with {@code buffer}
     * taken from {@code buffers}; both are given back when it is answered. {@code onReader}: it runs on the
     * connection's reader thread, where a success is deferred.
     */
    static PendingRequest admitted(Request r, ByteBuffer buffer, ReplyWriter replies, InFlight inFlight,
                                   BufferPool buffers, boolean onReader) {
        return new PendingRequest(r, buffer, replies, inFlight, buffers, onReader);
    }

    /** Sends (or defers) the one reply and gives back what the request holds, now or once a deferred reply is out. */
    void answer(Outcome outcome) {
        if (answered) {
            throw new IllegalStateException(Nbd.commandName(request.type) + " " + request.cookie + " answered twice");
        }
        answered = true;
        boolean deferred = false;
        try {
            if (outcome instanceof Failed f) {
                replies.error(request, f.nbdError(), f.message());
            } else if (outcome instanceof Extents e) {
                replies.blockStatus(request, e.extents());
            } else if (outcome instanceof Lent l) {
                replies.lent(request, l.data(), onReader);
            } else {
                ByteBuffer data = outcome instanceof Data d ? d.data() : null;
                if (onReader) {
                    if (data == null) {
                        release(); // nothing of ours goes out with the reply
                    }
                    replies.defer(this, data); // a READ's buffer is given back once its reply is out: replySent()
                    deferred = true;
                    return;
                }
                replies.success(request, data);
            }
        } finally {
            // Also when sending failed unexpectedly (a bug, not the client leaving: that is no exception here): the
            // connection then closes, and must not wait for a request that can no longer give back what it holds.
            if (!deferred && !released) {
                release();
            }
        }
    }

    /** A request that was never read whole (its connection failed): no reply, and what it holds goes back. */
    void abandon() {
        answered = true;
        release();
    }

    /** Called by {@link ReplyWriter} once a deferred reply carrying {@link #buffer} went out (or could not). */
    void replySent() {
        release();
    }

    private void release() {
        if (inFlight == null) {
            return; // refused: holds nothing
        }
        if (released) {
            throw new IllegalStateException(Nbd.commandName(request.type) + " " + request.cookie + " released twice");
        }
        released = true;
        buffers.release(buffer);
        inFlight.release(request.payloadBytes());
    }
}

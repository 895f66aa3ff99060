package dev.loopdev.nbd;

import dev.loopdev.Extent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Sends replies on one connection. Replies come from many threads and in any order; each goes out whole, header
 * and data under the connection's write lock, so replies never interleave on the wire. Every structured reply is
 * one chunk with the DONE flag: a READ's data is all in memory before we answer, so DF costs nothing to honour.
 *
 * <p>With structured replies (and compact headers) a request other than READ that succeeded gets a simple reply,
 * as the spec allows and nbdkit and qemu-nbd do: libnbd reads a structured header in two reads and a simple one in
 * one, and on a small write that read is a good part of the round trip (bench/README.md has the figures). Errors
 * stay structured, for their message; READs must be.
 *
 * <p>The connection's reader runs small requests itself, and a client with many requests in flight has sent the
 * next ones already: their replies are {@linkplain #defer deferred} and go out together, in one gathering write,
 * when the reader is about to wait for the socket or the batch ({@link #MAX_DEFERRED_REPLIES}) is full. One
 * system call, and one wakeup of the client, per batch instead of per reply.
 *
 * <p>Three header styles, fixed by the negotiation: simple (16 bytes), structured (20), extended (32, 64-bit
 * lengths and the request's offset echoed). If the socket fails, the client is gone: we close the channel (which
 * also wakes the reader) and drop every later reply. The requests themselves still complete against the device.
 */
final class ReplyWriter {
    private static final Logger LOG = Logger.getLogger(ReplyWriter.class.getName());
    private static final int MAX_MESSAGE_CHARS = 200;

    private final ByteChannel ch;
    private final boolean structured;
    private final boolean extended;
    private final ErrorReplies errors;
    private final ReentrantLock lock = new ReentrantLock();
    private final ByteBuffer header = ByteBuffer.allocateDirect(32 + 8 + 6 + 4 * MAX_MESSAGE_CHARS);
    private final ByteBuffer[] gather = new ByteBuffer[2];
    private boolean broken;

    // Deferred replies: the reader thread's alone, so they need no lock until they are sent. A batch of 8, not
    // more: the client works through the first replies (and sends its next requests) while we run the rest of
    // what it sent; at 32 a client at queue depth 16 waited for its whole batch, and 4 KiB random writes ran
    // 14-18% slower (bench/README.md, "A faster host, smaller reply batches, ...").
    static final int MAX_DEFERRED_REPLIES = 8;
    static final int MAX_DEFERRED_DATA_BYTES = 256 << 10;
    /** The longest success header: an extended READ chunk, 32 bytes and the offset its data starts at. */
    static final int MAX_SUCCESS_HEADER_BYTES = 32 + 8;
    private final ByteBuffer deferredHeaders = ByteBuffer.allocateDirect(MAX_DEFERRED_REPLIES
            * MAX_SUCCESS_HEADER_BYTES);
    /** Room for a lent reply (header and the device's slices) sent along with the batch. */
    private static final int MAX_LENT_SLICES = 8;
    private final ByteBuffer[] deferredSlices = new ByteBuffer[2 * MAX_DEFERRED_REPLIES + 2 + MAX_LENT_SLICES];
    private final ByteBuffer[] lentGather = new ByteBuffer[1 + MAX_LENT_SLICES];
    /** When the send in progress started (System.nanoTime), 0 when none is. */
    private volatile long sendingSince;
    /** Lent READ replies waiting to be sent or being sent: each holds a range of the device meanwhile. */
    private final java.util.concurrent.atomic.AtomicInteger lentPending = new java.util.concurrent.atomic.AtomicInteger();
    private final PendingRequest[] holdingData = new PendingRequest[MAX_DEFERRED_REPLIES];
    private int deferredCount;
    private int holdingCount;
    private int slices;
    private int headersFrom; // where the headers not yet sliced off start
    private long deferredDataBytes;

    /** {@code errors} counts every error reply sent. */
    ReplyWriter(ByteChannel ch, boolean structured, boolean extended, ErrorReplies errors) {
        this.ch = ch;
        this.structured = structured || extended;
        this.extended = extended;
        this.errors = errors;
    }

    /**
     * Queues a successful reply from the reader thread; {@code data} (a READ's payload, else null) is {@code p}'s
     * buffer, which stays untouched until the batch is out and {@code p} hears of it
     * ({@link PendingRequest#replySent}). Sends the batch when it is full.
     */
    void defer(PendingRequest p, ByteBuffer data) {
        ByteBuffer h = deferredHeaders;
        if (successHeader(h, p.request, data)) {
            deferredSlices[slices++] = h.duplicate().limit(h.position()).position(headersFrom);
            headersFrom = h.position();
            deferredSlices[slices++] = data;
            deferredDataBytes += data.remaining();
        }
        if (data != null) {
            holdingData[holdingCount++] = p;
        }
        deferredCount++;
        if (deferredCount == MAX_DEFERRED_REPLIES || deferredDataBytes >= MAX_DEFERRED_DATA_BYTES) {
            flushDeferred();
        }
    }

    /**
     * A READ's reply whose data the device lent in place: header and data in one gathering write, sent now (never
     * deferred), because the data is valid only until the caller gives the range back. The kernel copies it into
     * the socket during the call, so once this returns nothing refers to the pages any more. On the reader thread
     * the deferred replies go out in the same write.
     */
    void lent(Request r, ByteBuffer[] data, boolean onReader) {
        if (data.length > MAX_LENT_SLICES) {
            throw new IllegalArgumentException(data.length + " slices");
        }
        long bytes = 0;
        for (ByteBuffer b : data) {
            bytes += b.remaining();
        }
        lentPending.incrementAndGet();
        try {
            if (onReader) {
                ByteBuffer h = deferredHeaders;
                if (h.remaining() < MAX_SUCCESS_HEADER_BYTES) {
                    flushDeferred();
                }
                if (h.position() > headersFrom) {
                    deferredSlices[slices++] = h.duplicate().limit(h.position()).position(headersFrom);
                    headersFrom = h.position();
                }
                successHeader(h, r, bytes);
                deferredSlices[slices++] = h.duplicate().limit(h.position()).position(headersFrom);
                headersFrom = h.position();
                for (ByteBuffer b : data) {
                    deferredSlices[slices++] = b;
                }
                deferredCount++;
                flushDeferred();
                return;
            }
            lock.lock();
            try {
                header.clear();
                successHeader(header, r, bytes);
                header.flip();
                lentGather[0] = header;
                System.arraycopy(data, 0, lentGather, 1, data.length);
                sendAll(lentGather, 1 + data.length);
                java.util.Arrays.fill(lentGather, null);
            } finally {
                lock.unlock();
            }
        } finally {
            lentPending.decrementAndGet();
        }
    }

    /**
     * Whether a lent reply has been waiting for longer than {@code limitNanos} on a send that does not complete:
     * the client stopped reading while a range of the device is held for it.
     */
    boolean stalledWithLent(long now, long limitNanos) {
        long since = sendingSince;
        return lentPending.get() > 0 && since != 0 && now - since > limitNanos;
    }

    /** Sends the deferred replies, in one gathering write where the channel allows; reader thread only. */
    void flushDeferred() {
        if (deferredCount == 0) {
            return;
        }
        ByteBuffer h = deferredHeaders;
        if (h.position() > headersFrom) {
            deferredSlices[slices++] = h.duplicate().limit(h.position()).position(headersFrom);
        }
        lock.lock();
        try {
            sendAll(deferredSlices, slices);
        } finally {
            lock.unlock();
        }
        for (int i = 0; i < holdingCount; i++) {
            PendingRequest p = holdingData[i];
            holdingData[i] = null;
            p.replySent();
        }
        java.util.Arrays.fill(deferredSlices, 0, slices, null);
        deferredCount = 0;
        holdingCount = 0;
        slices = 0;
        headersFrom = 0;
        deferredDataBytes = 0;
        h.clear();
    }

    /** A successful reply; {@code data} is a READ's payload (position to limit), null for other commands. */
    void success(Request r, ByteBuffer data) {
        lock.lock();
        try {
            header.clear();
            send(successHeader(header, r, data) ? data : null);
        } finally {
            lock.unlock();
        }
    }

    /**
     * A BLOCK_STATUS reply for {@code base:allocation}: one descriptor per extent, 32-bit (BLOCK_STATUS) or, with
     * extended headers, 64-bit (BLOCK_STATUS_EXT, which the spec then requires).
     */
    void blockStatus(Request r, List<Extent> extents) {
        int each = extended ? 16 : 8;
        ByteBuffer payload = ByteBuffer.allocate((extended ? 8 : 4) + each * extents.size());
        payload.putInt(Nbd.BASE_ALLOCATION_ID);
        if (extended) {
            payload.putInt(extents.size());
        }
        for (Extent e : extents) {
            int state = (e.hole() ? Nbd.STATE_HOLE : 0) | (e.zero() ? Nbd.STATE_ZERO : 0);
            if (extended) {
                payload.putLong(e.length()).putLong(state);
            } else {
                payload.putInt((int) e.length()).putInt(state); // the request's length fits 32 bits, so do its extents
            }
        }
        payload.flip();
        lock.lock();
        try {
            header.clear();
            int type = extended ? Nbd.REPLY_TYPE_BLOCK_STATUS_EXT : Nbd.REPLY_TYPE_BLOCK_STATUS;
            chunk(header, r, type, payload.remaining());
            send(payload);
        } finally {
            lock.unlock();
        }
    }

    /**
     * An error reply. Structured: an ERROR chunk with a message for a human. Simple: the error in the header and,
     * even for a READ, no payload (the spec's rule for a simple reply that carries an error).
     */
    void error(Request r, int nbdError, String message) {
        errors.count(r.type, nbdError);
        lock.lock();
        try {
            header.clear();
            if (structured) {
                byte[] m = message(message);
                chunk(header, r, Nbd.REPLY_TYPE_ERROR, 6 + m.length)
                        .putInt(nbdError).putShort((short) m.length).put(m);
            } else {
                header.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(nbdError).putLong(r.cookie);
            }
            send(null);
        } finally {
            lock.unlock();
        }
    }

    /** The header of a successful reply into {@code h}; whether {@code data} (a READ's payload) follows it. */
    private boolean successHeader(ByteBuffer h, Request r, ByteBuffer data) {
        return successHeader(h, r, data == null ? 0 : data.remaining());
    }

    /** As above, for {@code dataBytes} of a READ's payload. */
    private boolean successHeader(ByteBuffer h, Request r, long dataBytes) {
        boolean withData = dataBytes > 0;
        if (!structured || (!extended && r.type != Nbd.CMD_READ)) {
            h.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(0).putLong(r.cookie);
        } else if (withData) {
            chunk(h, r, Nbd.REPLY_TYPE_OFFSET_DATA, 8L + dataBytes).putLong(r.offset);
        } else {
            chunk(h, r, Nbd.REPLY_TYPE_NONE, 0);
        }
        return withData;
    }

    /** The header of a final chunk, structured or extended, into {@code h}. */
    private ByteBuffer chunk(ByteBuffer h, Request r, int type, long payloadBytes) {
        h.putInt(extended ? Nbd.EXTENDED_REPLY_MAGIC : Nbd.STRUCTURED_REPLY_MAGIC)
                .putShort((short) Nbd.REPLY_FLAG_DONE).putShort((short) type).putLong(r.cookie);
        return extended ? h.putLong(r.offset).putLong(payloadBytes) : h.putInt((int) payloadBytes);
    }

    private void send(ByteBuffer data) {
        header.flip();
        gather[0] = header;
        gather[1] = data;
        sendAll(gather, data == null ? 1 : 2);
        gather[1] = null;
    }

    /** Writes {@code bufs[0..n)} whole, under the lock; on failure the client is gone and the channel closed. */
    private void sendAll(ByteBuffer[] bufs, int n) {
        if (broken) {
            return;
        }
        sendingSince = System.nanoTime() | 1; // never 0 while sending
        try {
            if (ch instanceof GatheringByteChannel g) {
                for (int first = 0; first < n; ) {
                    g.write(bufs, first, n - first);
                    while (first < n && !bufs[first].hasRemaining()) {
                        first++;
                    }
                }
            } else {
                for (int i = 0; i < n; i++) {
                    Wire.writeFully(ch, bufs[i]);
                }
            }
        } catch (IOException e) {
            broken = true;
            LOG.log(Level.FINE, "reply not sent, the client is gone", e);
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing a broken socket
            }
        } finally {
            sendingSince = 0;
        }
    }

    private static byte[] message(String message) {
        String m = message == null ? "" : message;
        if (m.length() > MAX_MESSAGE_CHARS) {
            m = m.substring(0, MAX_MESSAGE_CHARS);
        }
        return m.getBytes(StandardCharsets.UTF_8);
    }
}

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
 * and data under the connection's write lock, so replies never interleave on the wire. Every reply is one chunk
 * with the DONE flag: a READ's data is all in memory before we answer, so DF costs nothing to honour.
 *
 * <p>Three header styles, fixed by the negotiation: simple (16 bytes), structured (20), extended (32, 64-bit
 * lengths and the request's offset echoed). If the socket fails, the client is gone: we close the channel (which
 * also wakes the reader) and drop every later reply. The requests themselves still complete against the device.
 */
final class ReplyWriter {
    private static final Logger LOG = Logger.getLogger(ReplyWriter.class.getName());
    private static final int MESSAGE_CHARS_MAX = 200;

    private final ByteChannel ch;
    private final boolean structured;
    private final boolean extended;
    private final ReentrantLock lock = new ReentrantLock();
    private final ByteBuffer header = ByteBuffer.allocateDirect(32 + 8 + 6 + 4 * MESSAGE_CHARS_MAX);
    private final ByteBuffer[] gather = new ByteBuffer[2];
    private boolean broken;

    ReplyWriter(ByteChannel ch, boolean structured, boolean extended) {
        this.ch = ch;
        this.structured = structured || extended;
        this.extended = extended;
    }

    /** A successful reply; {@code data} is a READ's payload (position to limit), null for other commands. */
    void success(Request r, ByteBuffer data) {
        lock.lock();
        try {
            header.clear();
            boolean withData = data != null && data.hasRemaining();
            if (!structured) {
                header.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(0).putLong(r.cookie);
            } else if (withData) {
                chunk(r, Nbd.REPLY_TYPE_OFFSET_DATA, 8L + data.remaining()).putLong(r.offset);
            } else {
                chunk(r, Nbd.REPLY_TYPE_NONE, 0);
            }
            send(withData ? data : null);
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
            chunk(r, extended ? Nbd.REPLY_TYPE_BLOCK_STATUS_EXT : Nbd.REPLY_TYPE_BLOCK_STATUS, payload.remaining());
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
        lock.lock();
        try {
            header.clear();
            if (structured) {
                byte[] m = message(message);
                chunk(r, Nbd.REPLY_TYPE_ERROR, 6 + m.length).putInt(nbdError).putShort((short) m.length).put(m);
            } else {
                header.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(nbdError).putLong(r.cookie);
            }
            send(null);
        } finally {
            lock.unlock();
        }
    }

    /** The header of a final chunk, structured or extended, into {@link #header}. */
    private ByteBuffer chunk(Request r, int type, long payloadBytes) {
        header.putInt(extended ? Nbd.EXTENDED_REPLY_MAGIC : Nbd.STRUCTURED_REPLY_MAGIC)
                .putShort((short) Nbd.REPLY_FLAG_DONE).putShort((short) type).putLong(r.cookie);
        return extended ? header.putLong(r.offset).putLong(payloadBytes) : header.putInt((int) payloadBytes);
    }

    private void send(ByteBuffer data) {
        if (broken) {
            return;
        }
        header.flip();
        try {
            if (data == null) {
                Wire.writeFully(ch, header);
            } else if (ch instanceof GatheringByteChannel g) {
                gather[0] = header;
                gather[1] = data;
                while (data.hasRemaining()) {
                    g.write(gather);
                }
            } else {
                Wire.writeFully(ch, header);
                Wire.writeFully(ch, data);
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
            gather[1] = null;
        }
    }

    private static byte[] message(String message) {
        String m = message == null ? "" : message;
        if (m.length() > MESSAGE_CHARS_MAX) {
            m = m.substring(0, MESSAGE_CHARS_MAX);
        }
        return m.getBytes(StandardCharsets.UTF_8);
    }
}

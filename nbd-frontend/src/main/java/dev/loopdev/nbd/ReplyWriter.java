package dev.loopdev.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Sends replies on one connection. Replies come from many threads and in any order; each goes out whole, header
 * and data in one gathering write under the connection's write lock, so replies never interleave on the wire.
 *
 * <p>If the socket fails, the client is gone: we close the channel (which also wakes the reader) and drop every
 * later reply. The requests themselves still complete against the device.
 */
final class ReplyWriter {
    private static final Logger LOG = Logger.getLogger(ReplyWriter.class.getName());
    private static final int MESSAGE_CHARS_MAX = 200;

    private final SocketChannel ch;
    private final boolean structured;
    private final ReentrantLock lock = new ReentrantLock();
    private final ByteBuffer header = ByteBuffer.allocateDirect(32 + 6 + 4 * MESSAGE_CHARS_MAX);
    private final ByteBuffer[] gather = new ByteBuffer[2];
    private boolean broken;

    ReplyWriter(SocketChannel ch, boolean structured) {
        this.ch = ch;
        this.structured = structured;
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
                // One chunk, final: the data is all in memory, so no error can follow it.
                header.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE)
                        .putShort((short) Nbd.REPLY_TYPE_OFFSET_DATA).putLong(r.cookie)
                        .putInt(8 + data.remaining()).putLong(r.offset);
            } else {
                header.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE)
                        .putShort((short) Nbd.REPLY_TYPE_NONE).putLong(r.cookie).putInt(0);
            }
            send(withData ? data : null);
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
                header.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE)
                        .putShort((short) Nbd.REPLY_TYPE_ERROR).putLong(r.cookie).putInt(6 + m.length)
                        .putInt(nbdError).putShort((short) m.length).put(m);
            } else {
                header.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(nbdError).putLong(r.cookie);
            }
            send(null);
        } finally {
            lock.unlock();
        }
    }

    private void send(ByteBuffer data) {
        if (broken) {
            return;
        }
        header.flip();
        try {
            if (data == null) {
                Wire.writeFully(ch, header);
            } else {
                gather[0] = header;
                gather[1] = data;
                while (data.hasRemaining()) {
                    ch.write(gather);
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

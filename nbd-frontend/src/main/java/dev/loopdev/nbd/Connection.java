package dev.loopdev.nbd;

import dev.loopdev.BlockDevice;
import dev.loopdev.BlockDeviceException;
import dev.loopdev.Errno;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One client. Its thread negotiates, then reads requests: header, validation, payload into a pooled buffer. Small
 * reads and writes run right there on the reader (a handoff would cost more than the work); the rest go to the
 * server's worker pool, so replies may leave out of order, as the protocol allows.
 *
 * <p>Invariant: every request read whole gets exactly one reply attempt, and runs against the device even if the
 * client vanished meanwhile. When reading stops (DISC, EOF, garbage, shutdown) the connection waits for what is in
 * flight, then closes.
 */
final class Connection implements Runnable {
    private static final Logger LOG = Logger.getLogger(Connection.class.getName());
    private static final long DRAIN_MILLIS = 60_000;

    private final NbdServer server;
    private final SocketChannel ch;
    private final String peer;
    private final Export export;
    private final BlockDevice device;
    private final InFlight inFlight;
    private final ByteBuffer header = ByteBuffer.allocateDirect(Nbd.REQUEST_HEADER_BYTES);
    private final SocketInput input;
    private ReplyWriter replies;
    private volatile boolean negotiated;
    private volatile boolean stopping;

    Connection(NbdServer server, SocketChannel ch, String peer) {
        this.server = server;
        this.ch = ch;
        this.peer = peer;
        this.export = server.export();
        this.device = export.device();
        this.input = new SocketInput(ch);
        this.inFlight = new InFlight(server.tuning().inFlightBytesMax(), server.tuning().inFlightRequestsMax());
    }

    @Override
    public void run() {
        try {
            Handshake.Session session = new Handshake(ch, export).negotiate();
            negotiated = true;
            if (session != null) {
                LOG.fine(() -> peer + ": transmission, structured replies " + session.structuredReplies());
                replies = new ReplyWriter(ch, session.structuredReplies());
                serve();
            }
        } catch (NbdProtocolException e) {
            LOG.warning(peer + ": " + e.getMessage() + "; closing the connection");
        } catch (EOFException | ClosedChannelException e) {
            LOG.fine(() -> peer + ": " + (stopping ? "closed by the server" : "the client went away"));
        } catch (IOException e) {
            LOG.fine(() -> peer + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, peer + ": unexpected failure; closing the connection", e);
        } finally {
            drainAndClose();
        }
    }

    private void serve() throws IOException, InterruptedException {
        while (true) {
            header.clear();
            input.readFully(header);
            header.flip();
            int magic = header.getInt();
            if (magic != Nbd.REQUEST_MAGIC) {
                throw new NbdProtocolException("bad request magic 0x" + Integer.toHexString(magic));
            }
            Request r = Request.parse(header);
            if (r.type == Nbd.CMD_DISC) {
                LOG.fine(() -> peer + ": DISC");
                return;
            }
            Request.Rejection no = r.check(export);
            if (no == null) {
                admit(r);
            } else {
                reject(r, no);
            }
        }
    }

    /** Refuses a request; a WRITE's payload is read and dropped first, unless it is too large to be honest. */
    private void reject(Request r, Request.Rejection no) throws IOException {
        if (r.type == Nbd.CMD_WRITE) {
            if (r.length > 2L * Nbd.MAX_PAYLOAD_BYTES) {
                throw new NbdProtocolException("WRITE with a payload of " + r.length + " bytes");
            }
            input.skip(r.length);
        }
        LOG.fine(() -> peer + ": " + no.message());
        replies.error(r, NbdErrors.code(no.errno()), no.message());
    }

    private void admit(Request r) throws IOException, InterruptedException {
        int bytes = r.payloadBytes();
        inFlight.acquire(bytes);
        r.buffer = server.buffers().take(bytes);
        try {
            if (r.type == Nbd.CMD_WRITE) {
                input.readFully(r.buffer);
                r.buffer.flip();
            }
        } catch (IOException e) {
            done(r);   // a WRITE cut short is never applied: the client cannot have seen it acknowledged
            throw e;
        }
        if (runsInline(r)) {
            execute(r);
            return;
        }
        try {
            server.workers().execute(() -> execute(r));
        } catch (RejectedExecutionException e) {
            replies.error(r, NbdErrors.code(Errno.ESHUTDOWN), "the server is shutting down");
            done(r);
        }
    }

    /** Small reads and writes run on the reader; FUA, flush, trim and zeroing may wait on the disk. */
    private boolean runsInline(Request r) {
        return (r.type == Nbd.CMD_READ || r.type == Nbd.CMD_WRITE) && !r.fua()
                && r.length <= server.tuning().inlineBytesMax();
    }

    private void execute(Request r) {
        try {
            perform(r);
        } catch (Throwable t) {  // InternalError from a mapped page included: the client must hear of it
            Errno e = BlockDeviceException.errnoOf(t);
            LOG.log(t instanceof BlockDeviceException ? Level.FINE : Level.WARNING,
                    peer + ": " + Nbd.commandName(r.type) + " at " + r.offset + " failed: " + e, t);
            replies.error(r, NbdErrors.code(e), String.valueOf(t.getMessage()));
            done(r);
            return;
        }
        replies.success(r, r.type == Nbd.CMD_READ ? r.buffer.flip() : null);
        done(r);
    }

    private void perform(Request r) throws IOException {
        if (r.length == 0 && r.type != Nbd.CMD_FLUSH) {
            return; // the spec leaves zero-length requests unspecified, save "do not disconnect": a no-op
        }
        switch (r.type) {
            case Nbd.CMD_READ -> device.read(r.buffer, r.offset);
            case Nbd.CMD_WRITE -> device.write(r.buffer, r.offset, r.fua());
            case Nbd.CMD_FLUSH -> device.flush();
            case Nbd.CMD_TRIM -> device.trim(r.offset, r.length, r.fua());
            case Nbd.CMD_WRITE_ZEROES -> device.writeZeroes(r.offset, r.length, r.fua(),
                    (r.flags & Nbd.CMD_FLAG_NO_HOLE) == 0);
            default -> throw new AssertionError("unvalidated command " + r.type);
        }
    }

    private void done(Request r) {
        server.buffers().give(r.buffer);
        r.buffer = null;
        inFlight.release(r.payloadBytes());
    }

    private void drainAndClose() {
        try {
            if (!inFlight.awaitIdle(DRAIN_MILLIS)) {
                LOG.warning(peer + ": requests still running after " + DRAIN_MILLIS + " ms; closing anyway");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            ch.close();
        } catch (IOException e) {
            LOG.log(Level.FINE, peer + ": close", e);
        }
        server.closed(this);
        LOG.fine(() -> peer + ": closed");
    }

    boolean negotiated() {
        return negotiated;
    }

    /** Stops reading; what is in flight finishes and is answered, then the connection closes. */
    void stop() {
        stopping = true;
        try {
            ch.shutdownInput();
        } catch (IOException e) {
            closeNow();
        }
    }

    /** Closes the socket at once (a client that never finished negotiating). */
    void closeNow() {
        stopping = true;
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing left to do with a socket we are abandoning
        }
    }

    String peer() {
        return peer;
    }
}

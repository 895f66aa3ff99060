package dev.loopdev.nbd;

import dev.loopdev.BlockDevice;
import dev.loopdev.BlockDeviceException;
import dev.loopdev.Errno;
import dev.loopdev.Extent;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One client that finished negotiating. Its thread reads requests: header, validation, payload into a pooled
 * buffer. Small reads and writes run right there on the reader (a handoff would cost more than the work); the rest
 * go to the server's worker pool, so replies may leave out of order, as the protocol allows.
 *
 * <p>On a plain socket, where the device lends its pages, bytes move once ({@link InPlace}).
 *
 * <p>Invariant: every request read whole becomes a {@link PendingRequest} and is answered through it, once, and an
 * admitted one runs against the device even if the client vanished meanwhile. When reading stops (DISC, EOF,
 * garbage, shutdown) the connection waits for what is in flight, then closes.
 */
final class Connection implements Runnable {
    private static final Logger LOG = Logger.getLogger(Connection.class.getName());
    private static final long DRAIN_MILLIS = 60_000;
    private static final int CACHE_CHUNK_BYTES = 1 << 20;

    private final NbdServer server;
    private final SocketChannel ch;
    private final String peer;
    private final InFlight inFlight;
    private final ByteBuffer header = ByteBuffer.allocateDirect(Nbd.EXTENDED_REQUEST_HEADER_BYTES);
    private final Handshake.Session session;
    private Export export;
    private BlockDevice device;
    private SocketInput input;
    private ReplyWriter replies;
    private volatile boolean stopping;
    /** Bytes moved once, where the socket is plain (TLS must copy anyway) and the tuning allows; else null. */
    private volatile InPlace inPlace;

    /** A connection in transmission, {@code session} agreed by the {@link Negotiator} or elsewhere (the kernel). */
    Connection(NbdServer server, SocketChannel ch, String peer, Handshake.Session session) {
        this.server = server;
        this.ch = ch;
        this.peer = peer;
        this.session = session;
        this.inFlight = new InFlight(server.tuning().maxInFlightBytes(), server.tuning().maxInFlightRequests());
    }

    @Override
    public void run() {
        try {
            export = session.export();
            device = export.device();
            LOG.fine(() -> peer + ": export '" + export.name() + "'" + (session.tls() ? " over TLS" : "")
                    + ", structured replies " + session.structuredReplies() + ", extended headers "
                    + session.extendedHeaders() + ", base:allocation " + session.baseAllocation());
            replies = new ReplyWriter(session.channel(), session.structuredReplies(), session.extendedHeaders(),
                    server.errorReplies());
            input = new SocketInput(session.channel(), replies::flushDeferred, device::arrived);
            if (server.tuning().inPlace() && !session.tls()) {
                inPlace = new InPlace(device, input, replies, inFlight, server.buffers(), this::failed);
            }
            serve();
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
        boolean extended = session.extendedHeaders();
        int expectedMagic = extended ? Nbd.EXTENDED_REQUEST_MAGIC : Nbd.REQUEST_MAGIC;
        while (true) {
            header.clear().limit(extended ? Nbd.EXTENDED_REQUEST_HEADER_BYTES : Nbd.REQUEST_HEADER_BYTES);
            input.readFully(header);
            header.flip();
            int magic = header.getInt();
            if (magic != expectedMagic) {
                throw new NbdProtocolException("bad request magic 0x" + Integer.toHexString(magic));
            }
            Request r = Request.parse(header, extended);
            if (r.type == Nbd.CMD_DISC) {
                LOG.fine(() -> peer + ": DISC");
                return;
            }
            if (extended && r.has(Nbd.CMD_FLAG_PAYLOAD_LEN) && r.type != Nbd.CMD_WRITE) {
                // With extended headers the length is then a payload we never offered to take: we cannot know
                // where the next request starts. With compact headers it is just a flag we did not advertise.
                throw new NbdProtocolException(Nbd.commandName(r.type) + " with PAYLOAD_LEN, which we never offered");
            }
            Request.Rejection no = r.check(session);
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
            if (Long.compareUnsigned(r.length, 2L * Nbd.MAX_PAYLOAD_BYTES) > 0) {
                throw new NbdProtocolException("WRITE with a payload of " + Long.toUnsignedString(r.length)
                        + " bytes");
            }
            input.skip(r.length);
        }
        LOG.fine(() -> peer + ": " + no.message());
        PendingRequest.refused(r, replies).answer(new PendingRequest.Failed(NbdErrors.code(no.errno()),
                no.message()));
    }

    /**
     * Admits a request within the in-flight bound, reads a WRITE's payload into its buffer, and runs it here or
     * on a worker. From here on the {@link PendingRequest} owns the buffer and the charge.
     */
    private void admit(Request r) throws IOException, InterruptedException {
        int bytes = r.payloadBytes();
        if (!inFlight.tryAcquire(bytes)) {
            replies.flushDeferred(); // what we hold back may be what the bound waits for
            inFlight.acquire(bytes);
        }
        boolean inline = runsInline(r);
        if (r.type == Nbd.CMD_WRITE && inline && inPlace != null && inPlace.receive(r)) {
            return;
        }
        if (r.type == Nbd.CMD_WRITE && r.length > server.tuning().maxInlineWriteBytes()) {
            inline = false; // not received in place: a worker copies it while the reader takes in the next one
        }
        PendingRequest p = PendingRequest.admitted(r, server.buffers().acquire(bytes), replies, inFlight,
                server.buffers(), inline);
        if (r.type == Nbd.CMD_WRITE) {
            try {
                input.readFully(p.buffer);
            } catch (IOException e) {
                p.abandon(); // a WRITE cut short is never applied: the client cannot have seen it acknowledged
                throw e;
            }
            p.buffer.flip();
        }
        if (inline) {
            execute(p);
            return;
        }
        try {
            server.workers().execute(() -> execute(p));
        } catch (RejectedExecutionException e) {
            p.answer(new PendingRequest.Failed(NbdErrors.code(Errno.ESHUTDOWN), "the server is shutting down"));
        }
    }

    /**
     * Whether this client has left a lent range waiting on the network for longer than {@code limitNanos}: a
     * payload that stopped arriving, or a reply it stopped reading.
     */
    boolean stalledHoldingRange(long now, long limitNanos) {
        InPlace ip = inPlace;
        return ip != null && ip.stalled(now, limitNanos);
    }

    /** Small reads and writes run on the reader; FUA, flush, trim and zeroing may wait on the disk. */
    private boolean runsInline(Request r) {
        return (r.type == Nbd.CMD_READ || r.type == Nbd.CMD_WRITE) && !r.fua()
                && r.length <= server.tuning().maxInlineBytes();
    }

    /** Runs a request against the device and answers it, whatever happens. */
    private void execute(PendingRequest p) {
        InPlace ip = inPlace;
        if (ip != null && p.request.type == Nbd.CMD_READ && ip.send(p)) {
            return;
        }
        PendingRequest.Outcome outcome;
        try {
            outcome = perform(p.request, p.buffer);
        } catch (Throwable t) {  // InternalError from a mapped page included: the client must hear of it
            outcome = failed(p.request, t);
        }
        p.answer(outcome);
    }

    /** The answer to a request that failed with {@code t}, logged. */
    private PendingRequest.Failed failed(Request r, Throwable t) {
        Errno e = BlockDeviceException.errnoOf(t);
        LOG.log(t instanceof BlockDeviceException ? Level.FINE : Level.WARNING,
                peer + ": " + Nbd.commandName(r.type) + " at " + r.offset + " failed: " + e, t);
        return new PendingRequest.Failed(NbdErrors.code(e, r.has(Nbd.CMD_FLAG_FAST_ZERO)),
                String.valueOf(t.getMessage()));
    }

    /** What the request does to the device; {@code buffer} is its payload (READ, WRITE). */
    private PendingRequest.Outcome perform(Request r, ByteBuffer buffer) throws IOException {
        if (r.type == Nbd.CMD_BLOCK_STATUS) {
            return new PendingRequest.Extents(extents(r));
        }
        if (r.length == 0 && r.type != Nbd.CMD_FLUSH) {
            // the spec leaves zero-length requests unspecified, save "do not disconnect": a no-op
            return r.type == Nbd.CMD_READ ? new PendingRequest.Data(buffer) : PendingRequest.OK;
        }
        boolean mayTrim = !r.has(Nbd.CMD_FLAG_NO_HOLE);
        switch (r.type) {
            case Nbd.CMD_READ -> {
                device.read(buffer, r.offset);
                return new PendingRequest.Data(buffer.flip());
            }
            case Nbd.CMD_WRITE -> device.write(buffer, r.offset, r.fua());
            case Nbd.CMD_FLUSH -> device.flush();
            case Nbd.CMD_TRIM -> device.trim(r.offset, r.length, r.fua());
            case Nbd.CMD_WRITE_ZEROES -> {
                if (r.has(Nbd.CMD_FLAG_FAST_ZERO)) {
                    device.writeZeroesFast(r.offset, r.length, r.fua(), mayTrim);
                } else {
                    device.writeZeroes(r.offset, r.length, r.fua(), mayTrim);
                }
            }
            case Nbd.CMD_CACHE -> cache(r.offset, r.length);
            default -> throw new AssertionError("unvalidated command " + r.type);
        }
        return PendingRequest.OK;
    }

    /**
     * base:allocation for the request's range, from the device's extents. The device answers for at least the
     * first byte and at most the range; with REQ_ONE the client wants just the first extent.
     */
    private List<Extent> extents(Request r) throws IOException {
        List<Extent> extents = device.extents(r.offset, r.length);
        if (extents.isEmpty()) {
            throw new BlockDeviceException(Errno.EIO, "the device reported no extent at " + r.offset);
        }
        return r.has(Nbd.CMD_FLAG_REQ_ONE) ? extents.subList(0, 1) : extents;
    }

    /**
     * CACHE: read the range ahead so that later reads find it in the page cache, a chunk at a time into one pooled
     * buffer whose contents are dropped (the file's pages stay cached, which is the point).
     */
    private void cache(long offset, long length) throws IOException {
        int chunk = (int) Math.min(length, CACHE_CHUNK_BYTES);
        ByteBuffer b = server.buffers().acquire(chunk);
        try {
            for (long done = 0; done < length; ) {
                int n = (int) Math.min(chunk, length - done);
                b.clear().limit(n);
                device.read(b, offset + done);
                done += n;
            }
        } finally {
            server.buffers().release(b);
        }
    }

    private void drainAndClose() {
        if (replies != null) {
            replies.flushDeferred();
        }
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

    /** Stops reading; what is in flight finishes and is answered, then the connection closes. */
    void stop() {
        stopping = true;
        try {
            ch.shutdownInput();
        } catch (IOException e) {
            closeNow();
        }
    }

    /** Closes the socket at once. */
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

package dev.loopdev.nbd;

import dev.loopdev.BufferPool;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * An NBD server for one or more {@link Export}s (the first is the default export), listening on TCP and/or unix
 * sockets. Clients negotiate on the {@link Negotiator}'s one thread, then get a thread each that reads their
 * requests; one worker pool, shared by all connections, runs those that do not run inline.
 *
 * <p>{@link #close()} stops accepting, stops reading from every client, lets in-flight requests finish and be
 * answered, closes the connections and removes the unix socket files it made. It never interrupts a worker: an
 * interrupt inside FileChannel I/O would close the backing file.
 */
public final class NbdServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(NbdServer.class.getName());

    /**
     * How hard the server works for each client, and how much it takes from any.
     *
     * @param workers              threads in the shared pool for requests that do not run inline
     * @param maxInlineBytes       READs and WRITEs up to this size run on the connection's reader thread
     * @param maxInlineWriteBytes  of those, WRITEs that are not received in place run there only up to this size:
     *                             a large WRITE copied on a worker lets the reader take in the next payload
     * @param maxInFlightBytes     payload bytes one connection may hold in flight
     * @param maxInFlightRequests  requests one connection may have in flight
     * @param maxConnections       clients at once; beyond it the client negotiating longest is closed to make room,
     *                             and a client is turned away only when all of them are past negotiation
     * @param handshakeMillis      time a client gets to finish negotiating, from its connection (0: no limit)
     * @param maxOptions           options a client may send while negotiating
     * @param maxOptionBytes       bytes of options a client may send while negotiating
     * @param inPlace              READ replies sent straight from the device's pages and WRITE payloads received
     *                             straight into them, where the device lends them (plain sockets only)
     * @param stallMillis          how long a client may leave a lent range waiting on the network (a payload that
     *                             stops arriving, replies it stops reading) before it is disconnected
     */
    public record Tuning(int workers, int maxInlineBytes, int maxInlineWriteBytes, long maxInFlightBytes,
                         int maxInFlightRequests, int maxConnections, long handshakeMillis, int maxOptions,
                         long maxOptionBytes, boolean inPlace, long stallMillis) {
        /** qemu-nbd's default handshake limit. */
        public static final long HANDSHAKE_MILLIS = 10_000;
        /** High, as nbdkit has none: what bounds a flood is the handshake limit and room made by age. */
        public static final int MAX_CONNECTIONS = 4096;
        /** The stall limit for a client holding a lent range. */
        public static final long STALL_MILLIS = 30_000;
        /**
         * Larger WRITEs, unless received in place, run on workers (bench/README.md, "A faster host, smaller reply
         * batches, large WRITEs on workers").
         */
        public static final int INLINE_WRITE_BYTES = 256 << 10;

        public Tuning(int workers, int maxInlineBytes, long maxInFlightBytes, int maxInFlightRequests,
                      int maxConnections, long handshakeMillis, int maxOptions, long maxOptionBytes) {
            this(workers, maxInlineBytes, maxInlineBytes, maxInFlightBytes, maxInFlightRequests, maxConnections,
                    handshakeMillis, maxOptions, maxOptionBytes, true, STALL_MILLIS);
        }

        public Tuning(int workers, int maxInlineBytes, long maxInFlightBytes, int maxInFlightRequests,
                      int maxConnections, long handshakeMillis) {
            this(workers, maxInlineBytes, maxInFlightBytes, maxInFlightRequests, maxConnections, handshakeMillis,
                    256, 1 << 20);
        }

        public static Tuning defaults() {
            return new Tuning(8, 1 << 20, INLINE_WRITE_BYTES, 64L << 20, 256, MAX_CONNECTIONS, HANDSHAKE_MILLIS,
                    256, 1 << 20, true, STALL_MILLIS);
        }

        /** The same, with the client limit and the handshake limit given (the command line's). */
        public Tuning withAdmission(int connections, long handshake) {
            return new Tuning(workers, maxInlineBytes, maxInlineWriteBytes, maxInFlightBytes, maxInFlightRequests,
                    connections, handshake, maxOptions, maxOptionBytes, inPlace, stallMillis);
        }

        /** The same, with in-place transfers on or off. */
        public Tuning withInPlace(boolean on) {
            return new Tuning(workers, maxInlineBytes, maxInlineWriteBytes, maxInFlightBytes, maxInFlightRequests,
                    maxConnections, handshakeMillis, maxOptions, maxOptionBytes, on, stallMillis);
        }

        /** The same, with another stall limit. */
        public Tuning withStallMillis(long millis) {
            return new Tuning(workers, maxInlineBytes, maxInlineWriteBytes, maxInFlightBytes, maxInFlightRequests,
                    maxConnections, handshakeMillis, maxOptions, maxOptionBytes, inPlace, millis);
        }
    }

    /**
     * Connections the kernel queues for us, as nbdkit asks (SOMAXCONN): a burst of clients (a flood's reconnects)
     * beyond the queue would have their connection attempts dropped, and an honest one among them retried a second
     * later.
     */
    public static final int BACKLOG = 4096;

    private record Listener(ServerSocketChannel channel, Path unixPath, Thread acceptor) {
    }

    private final List<Export> exports;
    private final Tuning tuning;
    private volatile TlsMode tlsMode = TlsMode.OFF;
    private volatile TlsCredentials tlsCredentials;
    private final BufferPool buffers = new BufferPool(Nbd.MAX_PAYLOAD_BYTES);
    private final ThreadPoolExecutor workers;
    /** Checks for clients that hold a lent range while their network stands still. */
    private final ScheduledExecutorService timer;
    private final Negotiator negotiator;
    private final ErrorReplies errorReplies = new ErrorReplies();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connectionIds = new AtomicInteger();
    private volatile boolean closed;

    public NbdServer(Export export) {
        this(export, Tuning.defaults());
    }

    public NbdServer(Export export, Tuning tuning) {
        this(List.of(export), tuning);
    }

    /** Serves {@code exports}, whose names must differ; a client asking for the empty name gets the first. */
    public NbdServer(List<Export> exports, Tuning tuning) {
        if (exports.isEmpty()) {
            throw new IllegalArgumentException("no export to serve");
        }
        if (exports.stream().map(Export::name).distinct().count() != exports.size()) {
            throw new IllegalArgumentException("two exports with the same name");
        }
        this.exports = List.copyOf(exports);
        this.tuning = tuning;
        this.workers = new ThreadPoolExecutor(tuning.workers(), tuning.workers(), 0, TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(), daemons("nbd-worker-"));
        this.timer = Executors.newSingleThreadScheduledExecutor(daemons("nbd-timer-"));
        long check = Math.max(1, Math.min(1000, tuning.stallMillis() / 4));
        timer.scheduleWithFixedDelay(this::disconnectStalled, check, check, TimeUnit.MILLISECONDS);
        try {
            this.negotiator = new Negotiator(this, tuning);
        } catch (IOException e) {
            workers.shutdown();
            timer.shutdownNow();
            throw new java.io.UncheckedIOException("cannot start the negotiator", e);
        }
    }

    /**
     * A client that holds a lent range while it stops sending its payload or stops reading its replies keeps
     * every request that overlaps the range waiting; after {@link Tuning#stallMillis} it is disconnected, which
     * ends the wait (the range keeps what arrived of its own unacknowledged write).
     */
    private void disconnectStalled() {
        long now = System.nanoTime();
        for (Connection c : connections) {
            if (c.stalledHoldingRange(now, TimeUnit.MILLISECONDS.toNanos(tuning.stallMillis()))) {
                LOG.warning(c.peer() + ": held a range of the device while the network stood still for "
                        + tuning.stallMillis() + " ms; disconnecting");
                c.closeNow();
            }
        }
    }

    /** Offers (or requires) TLS with {@code credentials}; call before listening. */
    public void tls(TlsMode mode, TlsCredentials credentials) {
        if (mode != TlsMode.OFF && credentials == null) {
            throw new IllegalArgumentException("TLS " + mode.name().toLowerCase() + " needs credentials");
        }
        this.tlsMode = mode;
        this.tlsCredentials = credentials;
    }

    /**
     * Serves on a socket that is already listening, e.g. one inherited from systemd's socket activation. The
     * server owns it from now on and closes it, but never removes a unix socket file it did not make.
     */
    public void listenOn(ServerSocketChannel ssc) throws IOException {
        start(ssc, null, (ssc.getLocalAddress() instanceof UnixDomainSocketAddress ? "unix " : "tcp ")
                + ssc.getLocalAddress());
    }

    /** Listens on {@code address} (port 0 for any free port); returns the address actually bound. */
    public InetSocketAddress listenTcp(InetSocketAddress address) throws IOException {
        ServerSocketChannel ssc = ServerSocketChannel.open();
        try {
            ssc.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ssc.bind(address, BACKLOG);
        } catch (IOException e) {
            ssc.close();
            throw e;
        }
        InetSocketAddress bound = (InetSocketAddress) ssc.getLocalAddress();
        start(ssc, null, "tcp " + bound);
        return bound;
    }

    /**
     * Listens on a unix socket at {@code path}. A stale socket file (nobody listening) is replaced; a live one, or
     * any other file, is an error. The file is removed again on {@link #close()}.
     */
    public void listenUnix(Path path) throws IOException {
        UnixSockets.clearStale(path);
        ServerSocketChannel ssc = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ssc.bind(UnixDomainSocketAddress.of(path), BACKLOG);
        } catch (IOException e) {
            ssc.close();
            throw e;
        }
        start(ssc, path, "unix " + path);
    }

    private void start(ServerSocketChannel ssc, Path unixPath, String name) {
        boolean unix;
        try {
            unix = ssc.getLocalAddress() instanceof UnixDomainSocketAddress;
        } catch (IOException e) {
            unix = unixPath != null;
        }
        boolean isUnix = unix;
        Thread t = new Thread(() -> accept(ssc, isUnix, name), "nbd-accept " + name);
        t.setDaemon(true);
        listeners.add(new Listener(ssc, unixPath, t));
        t.start();
        for (Export e : exports) {
            LOG.info("listening on " + name + ", export '" + e.name() + "', " + e.device().size() + " bytes"
                    + (e.device().isReadOnly() ? ", read-only" : "") + (tlsMode == TlsMode.OFF ? "" : ", TLS "
                    + tlsMode.name().toLowerCase()));
        }
    }

    private void accept(ServerSocketChannel ssc, boolean unix, String name) {
        while (!closed) {
            SocketChannel c;
            try {
                c = ssc.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                LOG.warning(name + ": accept failed: " + e.getMessage());
                pause(); // e.g. out of file descriptors: do not spin
                continue;
            }
            try {
                admit(c, unix);
            } catch (IOException e) {
                LOG.log(Level.WARNING, name + ": cannot set up a connection", e);
                closeQuietly(c);
            }
        }
    }

    private void admit(SocketChannel c, boolean unix) throws IOException {
        int id = connectionIds.incrementAndGet();
        String peer = "#" + id + (unix ? " (unix)" : " " + c.getRemoteAddress());
        if (closed) {
            LOG.fine(() -> peer + ": turned away (shutting down)");
            c.close();
            return;
        }
        if (!unix) {
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
        }
        LOG.fine(() -> peer + ": connected");
        negotiator.accepted(c, peer);
    }

    /** A client finished negotiating: it gets a thread of its own for the transmission. */
    void transmit(SocketChannel c, String peer, Handshake.Session session) {
        Connection conn = new Connection(this, c, peer, session);
        connections.add(conn);
        Thread t = new Thread(conn, "nbd-conn-" + peer.substring(1).split(" ", 2)[0]);
        t.setDaemon(true);
        t.start();
        if (closed) {
            conn.stop();
        }
    }

    /**
     * Serves a connection whose negotiation happened elsewhere: the kernel's NBD client, handed a socket with
     * NBD_CMD_CONNECT, speaks the transmission phase at once, with simple replies. Returns the connection's
     * thread, which ends when the client disconnects.
     */
    public Thread serveNegotiated(SocketChannel c, Export export, String name) {
        Connection conn = new Connection(this, c, name,
                new Handshake.Session(export, c, false, false, false, false));
        connections.add(conn);
        Thread t = new Thread(conn, "nbd-" + name.replace(' ', '-'));
        t.start();
        return t;
    }

    List<Export> exports() {
        return exports;
    }

    TlsMode tlsMode() {
        return tlsMode;
    }

    TlsCredentials tlsCredentials() {
        return tlsCredentials;
    }

    Tuning tuning() {
        return tuning;
    }

    BufferPool buffers() {
        return buffers;
    }

    ThreadPoolExecutor workers() {
        return workers;
    }

    void closed(Connection c) {
        synchronized (connections) {
            connections.remove(c);
            connections.notifyAll();
        }
    }

    /** Clients connected, negotiating or past it. */
    public int connectionCount() {
        return connections.size() + negotiator.count();
    }

    /** Every error reply sent so far, by command and error: for {@code --stats}. */
    public ErrorReplies errorReplies() {
        return errorReplies;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Listener l : listeners) {
            closeQuietly(l.channel());
            join(l.acceptor(), 5_000);
            if (l.unixPath() != null) {
                try {
                    Files.deleteIfExists(l.unixPath());
                } catch (IOException e) {
                    LOG.warning("cannot remove " + l.unixPath() + ": " + e.getMessage());
                }
            }
        }
        negotiator.close();
        connections.forEach(Connection::stop);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(70);
        synchronized (connections) {
            while (!connections.isEmpty() && System.nanoTime() < deadline) {
                try {
                    connections.wait(1_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        timer.shutdownNow();
        workers.shutdown();
        try {
            if (!workers.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warning("workers still busy after 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LOG.fine("server closed");
    }

    private static void join(Thread t, long millis) {
        try {
            t.join(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(java.nio.channels.Channel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // best effort while shutting down or refusing
        }
    }

    static ThreadFactory daemons(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}

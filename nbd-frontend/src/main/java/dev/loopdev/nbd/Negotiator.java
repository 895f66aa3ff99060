package dev.loopdev.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * Every client that has not finished negotiating, on one thread, over non-blocking sockets: a client is only ever
 * waited for by the selector, so a thousand that connect and send nothing, or send a byte at a time, hold no thread
 * and cannot delay anyone else's negotiation, let alone a client in transmission, which has a thread of its own.
 * Each client's messages (its flags, an option's header, an option's data) are collected whole, then answered by
 * its {@link Handshake}; its replies are sent before the next message is read, so a client that does not read them
 * cannot make us buffer more than one option's worth.
 *
 * <p>What bounds a client before it is served: the handshake limit, counted from the moment it was accepted (a
 * trickle of bytes does not extend it, as with qemu-nbd's {@code --handshake-limit}); the number and bytes of its
 * options (see {@link Handshake}); and, when the server is at its client limit, its age: the client that has been
 * negotiating longest is closed to make room for a new one, so that clients that never finish cannot lock out the
 * ones that would. Clients in transmission are never closed for that. Memory per client is what it has sent of
 * its current message, at most one option.
 *
 * <p>STARTTLS moves the client to a small pool of threads, since Bouncy Castle's TLS blocks: the TLS handshake and
 * the rest of the negotiation run there, under the same limit, which closes the socket under them when it passes.
 */
final class Negotiator implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Negotiator.class.getName());
    private static final int MESSAGES_PER_WAKEUP = 16;
    /** A TLS handshake blocks its thread: a few stalled ones must not keep others waiting. */
    private static final int TLS_THREADS = 32;

    private final NbdServer server;
    private final NbdServer.Tuning tuning;
    private final Selector selector;
    private final Thread thread;
    private final ThreadPoolExecutor tlsThreads;
    private final Queue<Negotiation> arrivals = new ConcurrentLinkedQueue<>();
    /** Settled elsewhere (a TLS thread): to be forgotten by the selector thread. */
    private final Queue<Negotiation> settledElsewhere = new ConcurrentLinkedQueue<>();
    /** Oldest first; the selector thread's alone. */
    private final LinkedHashSet<Negotiation> byAge = new LinkedHashSet<>();
    /** Leaving the selector for a blocking mode of their own, once their keys are cancelled. */
    private final List<Negotiation> leaving = new ArrayList<>();
    private final AtomicInteger negotiating = new AtomicInteger();
    private final LogLimiter warnings = new LogLimiter(LOG, 10, 10_000);
    private volatile boolean closed;

    Negotiator(NbdServer server, NbdServer.Tuning tuning) throws IOException {
        this.server = server;
        this.tuning = tuning;
        this.selector = Selector.open();
        this.tlsThreads = new ThreadPoolExecutor(TLS_THREADS, TLS_THREADS, 10, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), NbdServer.daemons("nbd-tls-"));
        tlsThreads.allowCoreThreadTimeOut(true);
        this.thread = new Thread(this::run, "nbd-negotiator");
        thread.setDaemon(true);
        thread.start();
    }

    /** Clients accepted but not yet in transmission. */
    int count() {
        return negotiating.get();
    }

    /** Takes a client just accepted; from here on it is this negotiator's until it is served or closed. */
    void accepted(SocketChannel ch, String peer) {
        negotiating.incrementAndGet();
        arrivals.add(new Negotiation(ch, peer, server, tuning, negotiating::decrementAndGet));
        selector.wakeup();
        if (closed) {
            drainArrivals(); // too late: close it here, the selector thread may be gone
        }
    }

    private void run() {
        try {
            boolean cancelled = false;
            while (!closed) {
                if (cancelled) {
                    selector.selectNow(); // deregisters the cancelled keys, so their sockets may block again
                    for (Negotiation n : leaving) {
                        leave(n);
                    }
                    leaving.clear();
                } else {
                    selector.select(millisToNextDeadline());
                }
                drainArrivals();
                Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
                while (keys.hasNext()) {
                    SelectionKey k = keys.next();
                    keys.remove();
                    serve((Negotiation) k.attachment());
                }
                cancelled = !leaving.isEmpty();
                for (Negotiation n; (n = settledElsewhere.poll()) != null; ) {
                    byAge.remove(n);
                }
                expire();
            }
        } catch (IOException | ClosedSelectorException e) {
            if (!closed) {
                LOG.severe("the negotiator stopped: " + e);
            }
        } finally {
            for (Negotiation n : byAge) {
                close(n);
            }
            byAge.clear();
            drainArrivals();
        }
    }

    /** Admits the clients accepted since, within the client limit, and greets them. */
    private void drainArrivals() {
        for (Negotiation n; (n = arrivals.poll()) != null; ) {
            if (closed) {
                close(n);
            } else if (server.connectionCount() > tuning.maxConnections() && !makeRoom(n)) {
                warnings.warn(n.peer + ": turned away: " + tuning.maxConnections()
                        + " clients, all of them past negotiation (--max-clients)");
                close(n);
            } else {
                greet(n);
            }
        }
    }

    private void greet(Negotiation n) {
        try {
            n.ch.configureBlocking(false);
            n.key = n.ch.register(selector, 0, n);
            byAge.add(n);
            if (flushThen(n)) {
                n.key.interestOps(SelectionKey.OP_READ);
            }
        } catch (IOException e) {
            LOG.fine(() -> n.peer + ": " + e);
            forget(n);
        }
    }

    /** At the client limit: closes the client that has been negotiating longest. False if none is. */
    private boolean makeRoom(Negotiation newcomer) {
        Iterator<Negotiation> oldest = byAge.iterator();
        while (oldest.hasNext()) {
            Negotiation n = oldest.next();
            oldest.remove();
            if (n.settle()) {
                warnings.warn(n.peer + ": closed after " + n.ageMillis(System.nanoTime()) + " ms of negotiating, "
                        + "to make room for " + newcomer.peer + " (" + tuning.maxConnections()
                        + " clients at most: --max-clients)");
                n.close();
                return true;
            }
        }
        return false;
    }

    /** Reads what the client sent, answers every whole message, and sends the answers. */
    private void serve(Negotiation n) {
        if (n.isSettled()) {
            return;
        }
        try {
            if (n.key.isWritable() && !flushThen(n)) {
                return;
            }
            for (int messages = 0; messages < MESSAGES_PER_WAKEUP && n.isReading() && n.readMessage(); messages++) {
                if (!flushThen(n)) {
                    return;
                }
            }
            n.key.interestOps(SelectionKey.OP_READ);
        } catch (NbdProtocolException e) {
            warnings.warn(n.peer + ": " + e.getMessage() + "; closing the connection");
            forget(n);
        } catch (IOException | RuntimeException e) {
            LOG.fine(() -> n.peer + ": " + (e instanceof EOFException ? e.getMessage() : e));
            forget(n);
        }
    }

    /**
     * Sends what is queued for the client; then, if all of it went, goes on as the stage says: true to read on,
     * false when the client leaves the selector (served, moving to TLS, or closed) or must first take our replies.
     */
    private boolean flushThen(Negotiation n) throws IOException {
        if (!n.flush()) {
            n.key.interestOps(SelectionKey.OP_WRITE); // stop reading until it takes what we said
            return false;
        }
        switch (n.stage()) {
            case HANDOVER, TLS -> {
                n.key.cancel();
                leaving.add(n);
                return false;
            }
            case CLOSE -> {
                forget(n);
                return false;
            }
            default -> {
                return true;
            }
        }
    }

    /** Off the selector, in blocking mode: to transmission, or to a TLS thread. */
    private void leave(Negotiation n) {
        try {
            if (n.stage() == Negotiation.Stage.HANDOVER) {
                if (n.settle()) {
                    byAge.remove(n);
                    n.ch.configureBlocking(true);
                    server.transmit(n.ch, n.peer, n.chosen());
                }
            } else if (!n.isSettled()) {
                n.ch.configureBlocking(true);
                tlsThreads.execute(() -> negotiateOverTls(n));
            }
        } catch (IOException | RejectedExecutionException e) {
            LOG.fine(() -> n.peer + ": " + e);
            forget(n);
        }
    }

    /** On a TLS thread: the TLS handshake, then the rest of the negotiation, blocking, under the same limit. */
    private void negotiateOverTls(Negotiation n) {
        Handshake.Session chosen = null;
        try {
            n.handshake.startTls(n.ch);
            chosen = n.handshake.options();
        } catch (NbdProtocolException e) {
            if (!n.isSettled()) {
                warnings.warn(n.peer + ": " + e.getMessage() + "; closing the connection");
            }
        } catch (IOException | RuntimeException e) {
            LOG.fine(() -> n.peer + ": " + e);
        }
        if (!n.settle()) {
            return; // the limit passed, or the server is closing: the socket is closed already
        }
        settledElsewhere.add(n);
        selector.wakeup();
        if (chosen == null) {
            n.close();
        } else {
            server.transmit(n.ch, n.peer, chosen);
        }
    }

    /** Closes the clients whose handshake limit has passed, oldest first. */
    private void expire() {
        long limit = tuning.handshakeMillis();
        if (limit <= 0) {
            return;
        }
        long now = System.nanoTime();
        Iterator<Negotiation> oldest = byAge.iterator();
        while (oldest.hasNext()) {
            Negotiation n = oldest.next();
            if (n.ageMillis(now) < limit) {
                return;
            }
            oldest.remove();
            if (n.settle()) {
                warnings.warn(n.peer + ": did not finish negotiating within " + limit + " ms (--handshake-limit)");
                n.close();
            }
        }
    }

    /** How long the selector may sleep: until the oldest client's limit passes (0: until woken). */
    private long millisToNextDeadline() {
        long limit = tuning.handshakeMillis();
        if (limit <= 0 || byAge.isEmpty()) {
            return 0;
        }
        return Math.max(1, limit - byAge.iterator().next().ageMillis(System.nanoTime()));
    }

    /** Closes a client on the selector thread, unless it was settled already. */
    private void forget(Negotiation n) {
        if (n.settle()) {
            byAge.remove(n);
            n.close();
        }
    }

    private static void close(Negotiation n) {
        if (n.settle()) {
            n.close();
        }
    }

    /** Closes every client still negotiating, on the selector thread and on the TLS threads, and stops. */
    @Override
    public void close() {
        closed = true;
        selector.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        tlsThreads.shutdown();
        try {
            selector.close();
        } catch (IOException ignored) {
            // nothing registered is left to care
        }
        warnings.flush();
    }
}

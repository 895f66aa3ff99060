package dev.loopdev.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One client while the {@link Negotiator} negotiates with it: its non-blocking socket, its {@link Handshake}, the
 * message it is being read for (its flags, an option's header, an option's data), and the replies not sent yet.
 * Option data arrives into a buffer that grows with it, up to the length the header gave: a client that announces a
 * large option and trickles it holds only what it sent.
 */
final class Negotiation {
    /** What the client is read for, and what becomes of it once its replies are out. */
    enum Stage { FLAGS, HEADER, DATA, HANDOVER, TLS, CLOSE }

    private static final int FIRST_BUFFER_BYTES = 512;

    final SocketChannel ch;
    final String peer;
    final Handshake handshake;
    private final long acceptedNanos;
    private final Replies out = new Replies();
    private final AtomicBoolean settled = new AtomicBoolean();
    private final Runnable onSettled;
    SelectionKey key;
    private Stage stage = Stage.FLAGS;
    private ByteBuffer in = ByteBuffer.allocate(Handshake.CLIENT_FLAGS_BYTES);
    private int dataBytes;
    private Handshake.Session chosen;

    /** {@code onSettled} runs once, when the negotiation is {@linkplain #settle settled}. */
    Negotiation(SocketChannel ch, String peer, NbdServer server, NbdServer.Tuning tuning, Runnable onSettled) {
        this.ch = ch;
        this.peer = peer;
        this.acceptedNanos = System.nanoTime();
        this.onSettled = onSettled;
        this.handshake = new Handshake(out, ch, server.exports(), server.tlsMode(), server.tlsCredentials(), peer,
                tuning.maxOptions(), tuning.maxOptionBytes());
        out.write(handshake.greeting());
    }

    Stage stage() {
        return stage;
    }

    /** The session the client chose, once {@link #stage} is HANDOVER. */
    Handshake.Session chosen() {
        return chosen;
    }

    boolean isReading() {
        return stage == Stage.FLAGS || stage == Stage.HEADER || stage == Stage.DATA;
    }

    long ageMillis(long now) {
        return TimeUnit.NANOSECONDS.toMillis(now - acceptedNanos);
    }

    /** Marks it settled (served, closed, or timed out), exactly once: whoever wins decides what becomes of it. */
    boolean settle() {
        if (settled.compareAndSet(false, true)) {
            onSettled.run();
            return true;
        }
        return false;
    }

    boolean isSettled() {
        return settled.get();
    }

    /**
     * Reads what the socket has of the current message; once the message is whole, answers it (the replies are
     * queued) and sets up the next stage. Returns whether a message was answered; false when the socket has no
     * more bytes for now.
     */
    boolean readMessage() throws IOException {
        while (true) {
            if (stage == Stage.DATA && !in.hasRemaining() && in.capacity() < dataBytes) {
                in = ByteBuffer.allocate((int) Math.min(dataBytes, 2L * in.capacity())).put(in.flip());
            }
            int r = ch.read(in);
            if (r < 0) {
                throw new EOFException("the client went away while negotiating");
            }
            if (!in.hasRemaining() && (stage != Stage.DATA || in.capacity() == dataBytes)) {
                step();
                return true;
            }
            if (r == 0) {
                return false;
            }
        }
    }

    /** Sends what the socket takes of the queued replies; true when nothing is left. */
    boolean flush() throws IOException {
        return out.writeTo(ch);
    }

    /** One whole message: answered, and the next one set up. */
    private void step() throws IOException {
        ByteBuffer m = in.flip();
        switch (stage) {
            case FLAGS -> {
                handshake.clientFlags(m.getInt());
                expect(Stage.HEADER, Handshake.OPTION_HEADER_BYTES);
            }
            case HEADER -> {
                dataBytes = handshake.optionHeader(m);
                expect(Stage.DATA, Math.min(dataBytes, FIRST_BUFFER_BYTES));
                if (dataBytes == 0) {
                    step();
                }
            }
            case DATA -> {
                chosen = handshake.option(m);
                if (chosen != null) {
                    stage = Stage.HANDOVER;
                } else if (handshake.aborted()) {
                    stage = Stage.CLOSE;
                } else if (handshake.startingTls()) {
                    stage = Stage.TLS;
                } else {
                    expect(Stage.HEADER, Handshake.OPTION_HEADER_BYTES);
                }
            }
            default -> throw new AssertionError(stage);
        }
    }

    private void expect(Stage next, int bytes) {
        stage = next;
        in = ByteBuffer.allocate(bytes);
    }

    void close() {
        try {
            ch.close();
        } catch (IOException ignored) {
            // a socket we are abandoning
        }
    }

    /**
     * Replies queued for the client: {@link Handshake} writes into it as into the socket, and the selector thread
     * sends it when the socket takes it.
     */
    private static final class Replies implements ByteChannel {
        private final ArrayDeque<ByteBuffer> queue = new ArrayDeque<>();

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            queue.add(ByteBuffer.allocate(n).put(src).flip());
            return n;
        }

        boolean writeTo(SocketChannel ch) throws IOException {
            while (!queue.isEmpty()) {
                ByteBuffer b = queue.peek();
                ch.write(b);
                if (b.hasRemaining()) {
                    return false;
                }
                queue.poll();
            }
            return true;
        }

        @Override
        public int read(ByteBuffer dst) {
            throw new UnsupportedOperationException("a handshake reads nothing from its replies");
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
            queue.clear();
        }
    }
}

package dev.loopdev.e2e;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A unix-socket connection whose every read and write has a deadline: a server that hangs fails the test instead
 * of holding it. (A unix {@link SocketChannel} has no socket adaptor, hence no SO_TIMEOUT: a selector does it.)
 */
final class NbdSocket implements AutoCloseable {
    static final Duration TIMEOUT = Duration.ofSeconds(15);

    private final SocketChannel ch;
    private final Selector readable;
    private final Selector writable;

    private NbdSocket(SocketChannel ch) throws IOException {
        this.ch = ch;
        ch.configureBlocking(false);
        this.readable = Selector.open();
        this.writable = Selector.open();
        ch.register(readable, SelectionKey.OP_READ);
        ch.register(writable, SelectionKey.OP_WRITE);
    }

    static NbdSocket connect(Path unix) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(unix)); // blocking: a local connect completes or fails at once
            return new NbdSocket(ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Writes all of {@code b}; fails when the peer stops reading for {@link #TIMEOUT}. */
    void write(ByteBuffer b) throws IOException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (b.hasRemaining()) {
            if (ch.write(b) == 0) {
                await(writable, deadline, "write");
            }
        }
    }

    /** Fills {@code b}; EOFException when the peer closes first. */
    void readFully(ByteBuffer b) throws IOException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (b.hasRemaining()) {
            int n = ch.read(b);
            if (n < 0) {
                throw new EOFException("the server closed the connection (" + b.remaining() + " bytes short)");
            }
            if (n == 0) {
                await(readable, deadline, "read");
            }
        }
    }

    /**
     * As {@link #readFully}, but false when the peer closed (or reset) the connection before the first byte: the
     * end of a stream of replies, as opposed to a reply torn in half.
     */
    boolean readFullyOrEnd(ByteBuffer b) throws IOException {
        int start = b.position();
        try {
            readFully(b);
            return true;
        } catch (IOException e) {
            if (b.position() == start) {
                return false;
            }
            throw e;
        }
    }

    /** Half-closes: the server sees the end of the stream, and can still answer. */
    void shutdownOutput() throws IOException {
        ch.shutdownOutput();
    }

    ByteBuffer read(int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        readFully(b);
        return b.flip();
    }

    /**
     * Waits for the peer to close. Returns the number of bytes it sent before closing (a reset counts as a close);
     * fails when it keeps the connection open for {@link #TIMEOUT}.
     */
    long awaitClose() throws IOException {
        ByteBuffer sink = ByteBuffer.allocate(64 * 1024);
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        long bytes = 0;
        while (true) {
            int n;
            try {
                n = ch.read(sink.clear());
            } catch (IOException reset) {
                return bytes;
            }
            if (n < 0) {
                return bytes;
            }
            bytes += n;
            if (n == 0) {
                await(readable, deadline, "close");
            }
        }
    }

    private void await(Selector s, long deadline, String what) throws IOException {
        long left = (deadline - System.nanoTime()) / 1_000_000;
        if (left <= 0) {
            // Not an IOException: a hang must never pass for a close.
            throw new AssertionError("the server did not " + what + " within " + TIMEOUT.toSeconds() + " s");
        }
        s.select(left);
        s.selectedKeys().clear();
    }

    @Override
    public void close() {
        try {
            readable.close();
            writable.close();
            ch.close();
        } catch (IOException ignored) {
            // a test socket: nothing to do about a failed close
        }
    }
}

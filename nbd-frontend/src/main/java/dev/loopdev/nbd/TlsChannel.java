package dev.loopdev.nbd;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import org.bouncycastle.tls.TlsProtocol;

/**
 * The rest of a connection after STARTTLS: application data through Bouncy Castle's TLS record layer. One thread
 * reads (the connection's reader) and one at a time writes (under the reply lock), which is how BC's blocking
 * protocol may be used: reads and writes keep separate cipher states.
 */
final class TlsChannel implements ByteChannel {
    private static final int CHUNK_BYTES = 16 << 10; // one TLS record's worth of plaintext

    private final TlsProtocol protocol;
    private final ByteChannel raw;
    private final InputStream in;
    private final OutputStream out;
    private final byte[] readChunk = new byte[CHUNK_BYTES];
    private final byte[] writeChunk = new byte[CHUNK_BYTES];
    private volatile boolean open = true;

    TlsChannel(TlsProtocol protocol, ByteChannel raw) {
        this.protocol = protocol;
        this.raw = raw;
        this.in = protocol.getInputStream();
        this.out = protocol.getOutputStream();
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        int n = in.read(readChunk, 0, Math.min(dst.remaining(), readChunk.length));
        if (n > 0) {
            dst.put(readChunk, 0, n);
        }
        return n;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int total = src.remaining();
        while (src.hasRemaining()) {
            int n = Math.min(src.remaining(), writeChunk.length);
            src.get(writeChunk, 0, n);
            out.write(writeChunk, 0, n);
        }
        return total;
    }

    @Override
    public boolean isOpen() {
        return open && raw.isOpen();
    }

    /** Sends close_notify when it can, then closes the socket whatever happens. */
    @Override
    public void close() throws IOException {
        open = false;
        try {
            protocol.close();
        } catch (IOException ignored) {
            // the peer may be gone already; the socket is closed below either way
        } finally {
            raw.close();
        }
    }

    /** Blocking streams straight on the channel, without Channels.newInputStream's lock shared with writers. */
    static InputStream in(ByteChannel ch) {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return len == 0 ? 0 : ch.read(ByteBuffer.wrap(b, off, len));
            }
        };
    }

    static OutputStream out(ByteChannel ch) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                Wire.writeFully(ch, ByteBuffer.wrap(b, off, len));
            }
        };
    }
}

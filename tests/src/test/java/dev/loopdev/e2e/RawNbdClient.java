package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/**
 * The smallest NBD client that can misbehave on purpose: fixed-newstyle handshake with NBD_OPT_EXPORT_NAME, simple
 * replies only, over TCP to 127.0.0.1 with a read timeout on every read. Tests use it for what no real client
 * sends: garbage, half requests, requests after NBD_CMD_DISC.
 */
final class RawNbdClient implements AutoCloseable {
    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int OPT_EXPORT_NAME = 1;
    static final short CMD_READ = 0;
    static final short CMD_WRITE = 1;
    static final short CMD_DISC = 2;
    static final short CMD_FLUSH = 3;
    static final short FLAG_FUA = 1;
    private static final int FLAG_FIXED_NEWSTYLE = 1;
    private static final int FLAG_NO_ZEROES = 2;
    private static final int TIMEOUT_MILLIS = 10_000;

    final Socket socket;
    final DataInputStream in;
    final DataOutputStream out;
    long exportSize;
    private long nextCookie = 1;

    private RawNbdClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = new DataOutputStream(socket.getOutputStream());
    }

    /** Connects to {@code nbd://127.0.0.1:PORT/...} without any handshake. */
    static RawNbdClient connect(String nbdUri) {
        URI u = URI.create(nbdUri);
        assertEquals("127.0.0.1", u.getHost(), "tests talk to 127.0.0.1 only");
        try {
            Socket s = new Socket();
            s.connect(new InetSocketAddress("127.0.0.1", u.getPort()), TIMEOUT_MILLIS);
            s.setSoTimeout(TIMEOUT_MILLIS);
            return new RawNbdClient(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Connects and negotiates the export, ready for transmission. */
    static RawNbdClient open(String nbdUri, String exportName) throws IOException {
        RawNbdClient c = connect(nbdUri);
        int handshakeFlags = c.greeting();
        c.out.writeInt(handshakeFlags & (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        c.out.writeLong(IHAVEOPT);
        c.out.writeInt(OPT_EXPORT_NAME);
        c.out.writeInt(name.length);
        c.out.write(name);
        c.out.flush();
        c.exportSize = c.in.readLong();
        c.in.readUnsignedShort(); // transmission flags
        if ((handshakeFlags & FLAG_NO_ZEROES) == 0) {
            c.in.readFully(new byte[124]);
        }
        return c;
    }

    /** Reads the server's greeting; returns its handshake flags. */
    int greeting() throws IOException {
        assertEquals(NBDMAGIC, in.readLong(), "NBDMAGIC");
        assertEquals(IHAVEOPT, in.readLong(), "IHAVEOPT (fixed newstyle)");
        int flags = in.readUnsignedShort();
        assertTrue((flags & FLAG_FIXED_NEWSTYLE) != 0, "the server offers fixed newstyle");
        return flags;
    }

    /** Sends one request header (and payload, if any) without waiting for the reply; returns its cookie. */
    long send(short type, short flags, long offset, int length, byte[] payload) throws IOException {
        long cookie = nextCookie++;
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt(length);
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
        return cookie;
    }

    /** Reads one simple reply to {@code cookie}; returns its NBD error (0 is success); fills {@code data} if given. */
    int reply(long cookie, byte[] data) throws IOException {
        assertEquals(SIMPLE_REPLY_MAGIC, in.readInt(), "simple reply magic");
        int error = in.readInt();
        assertEquals(cookie, in.readLong(), "the reply's cookie");
        if (error == 0 && data != null) {
            in.readFully(data);
        }
        return error;
    }

    void write(long offset, byte[] data, boolean fua) throws IOException {
        long cookie = send(CMD_WRITE, fua ? FLAG_FUA : 0, offset, data.length, data);
        assertEquals(0, reply(cookie, null), "write reply error");
    }

    byte[] read(long offset, int length) throws IOException {
        byte[] data = new byte[length];
        long cookie = send(CMD_READ, (short) 0, offset, length, null);
        assertEquals(0, reply(cookie, data), "read reply error");
        return data;
    }

    void flush() throws IOException {
        assertEquals(0, reply(send(CMD_FLUSH, (short) 0, 0, 0, null), null), "flush reply error");
    }

    /**
     * Asserts the server closes this connection without sending another byte: the next read sees end of stream
     * (or a reset) before the timeout.
     */
    void assertClosedByServer(String why) throws IOException {
        try {
            int b = in.read();
            assertEquals(-1, b, why + ": the server sent a byte instead of closing");
        } catch (SocketTimeoutException e) {
            throw new AssertionError(why + ": the server kept the connection open for " + TIMEOUT_MILLIS + " ms");
        } catch (java.net.SocketException e) {
            // a reset is a close too
        } catch (EOFException e) {
            // closed
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing a test socket cannot fail meaningfully
        }
    }
}

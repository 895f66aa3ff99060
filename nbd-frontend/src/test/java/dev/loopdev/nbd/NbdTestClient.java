package dev.loopdev.nbd;

import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.BufferedOutputStream;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A deliberately small NBD client that says exactly what a test tells it to, including what a client must not. */
final class NbdTestClient implements Closeable {
    record OptionReply(int option, int type, byte[] data) {
    }

    record SimpleReply(int error, long cookie, byte[] data) {
    }

    record Chunk(int flags, int type, long cookie, byte[] payload) {
    }

    record ExtendedChunk(int flags, int type, long cookie, long offset, byte[] payload) {
    }

    final SocketChannel ch;
    DataInputStream in;    // replaced by the TLS streams after STARTTLS
    DataOutputStream out;

    private NbdTestClient(SocketChannel ch) {
        this.ch = ch;
        // Not Channels.newInputStream/newOutputStream: those hold the channel's blocking lock while blocked, so
        // a thread stuck writing would keep another from reading the replies that would unstick it.
        this.in = new DataInputStream(new java.io.BufferedInputStream(new java.io.InputStream() {
            @Override
            public int read() throws IOException {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return ch.read(java.nio.ByteBuffer.wrap(b, off, len));
            }
        }, 1 << 16));
        this.out = new DataOutputStream(new BufferedOutputStream(new java.io.OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b, off, len);
                while (bb.hasRemaining()) {
                    ch.write(bb);
                }
            }
        }, 1 << 16));
    }

    static NbdTestClient connect(SocketAddress address) throws IOException {
        SocketChannel ch = address instanceof UnixDomainSocketAddress
                ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
        ch.connect(address);
        return new NbdTestClient(ch);
    }

    /** A client on a socket connected by the caller (with its own options). */
    static NbdTestClient adopt(SocketChannel ch) {
        return new NbdTestClient(ch);
    }

    /** Reads the greeting and returns the handshake flags. */
    int greeting() throws IOException {
        assertEquals(Nbd.NBDMAGIC, in.readLong());
        assertEquals(Nbd.IHAVEOPT, in.readLong());
        return in.readUnsignedShort();
    }

    void clientFlags(int flags) throws IOException {
        out.writeInt(flags);
        out.flush();
    }

    void option(int option, byte[] data) throws IOException {
        out.writeLong(Nbd.IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    OptionReply optionReply() throws IOException {
        assertEquals(Nbd.OPTION_REPLY_MAGIC, in.readLong());
        int option = in.readInt();
        int type = in.readInt();
        byte[] data = new byte[in.readInt()];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    /** INFO or GO data: name, then the info requests. */
    static byte[] infoRequest(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length)
                .putInt(n.length).put(n).putShort((short) infos.length);
        for (int i : infos) {
            b.putShort((short) i);
        }
        return b.array();
    }

    /** Negotiates fixed newstyle with NO_ZEROES and GO; returns the transmission flags. */
    int go(String name, boolean structured) throws IOException {
        greeting();
        clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        if (structured) {
            option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(Nbd.REP_ACK, optionReply().type());
        }
        return goOnly(name);
    }

    /** Switches to TLS streams (after STARTTLS was acknowledged and the TLS handshake done on the old ones). */
    void useStreams(java.io.InputStream tlsIn, java.io.OutputStream tlsOut) {
        in = new DataInputStream(new java.io.BufferedInputStream(tlsIn, 1 << 16));
        out = new DataOutputStream(new BufferedOutputStream(tlsOut, 1 << 16));
    }

    /** The raw streams of the socket, for a TLS handshake. */
    java.io.InputStream rawIn() {
        return in;
    }

    java.io.OutputStream rawOut() {
        return out;
    }

    /** LIST_META_CONTEXT or SET_META_CONTEXT data. */
    static byte[] metaContextRequest(String export, String... queries) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (DataOutputStream d = new DataOutputStream(bytes)) {
            byte[] n = export.getBytes(StandardCharsets.UTF_8);
            d.writeInt(n.length);
            d.write(n);
            d.writeInt(queries.length);
            for (String q : queries) {
                byte[] b = q.getBytes(StandardCharsets.UTF_8);
                d.writeInt(b.length);
                d.write(b);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Replies to an option up to and including the ACK or first error. */
    java.util.List<OptionReply> optionReplies() throws IOException {
        java.util.List<OptionReply> replies = new java.util.ArrayList<>();
        for (int i = 0; i < 100; i++) {
            OptionReply r = optionReply();
            replies.add(r);
            if (r.type() == Nbd.REP_ACK || r.type() < 0) {
                return replies;
            }
        }
        throw new AssertionError("no end to the replies");
    }

    /** GO after whatever options were already sent; returns the transmission flags. */
    int goOnly(String name) throws IOException {
        option(Nbd.OPT_GO, infoRequest(name));
        int flags = -1;
        for (int i = 0; i < 10; i++) {
            OptionReply r = optionReply();
            if (r.type() == Nbd.REP_ACK) {
                return flags;
            }
            assertEquals(Nbd.REP_INFO, r.type(), "GO refused");
            java.nio.ByteBuffer d = java.nio.ByteBuffer.wrap(r.data());
            if (d.getShort() == Nbd.INFO_EXPORT) {
                d.getLong();
                flags = Short.toUnsignedInt(d.getShort());
            }
        }
        throw new AssertionError("no ACK to GO");
    }

    void extendedRequest(int flags, int type, long cookie, long offset, long length, byte[] payload)
            throws IOException {
        out.writeInt(Nbd.EXTENDED_REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeLong(length);
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    ExtendedChunk extendedChunk() throws IOException {
        assertEquals(Nbd.EXTENDED_REPLY_MAGIC, in.readInt());
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        long offset = in.readLong();
        long length = in.readLong();
        byte[] payload = new byte[Math.toIntExact(length)];
        in.readFully(payload);
        return new ExtendedChunk(flags, type, cookie, offset, payload);
    }

    void request(int flags, int type, long cookie, long offset, long length, byte[] payload) throws IOException {
        out.writeInt(Nbd.REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt((int) length);
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    /** A simple reply; {@code dataBytes} of data follow it only when it reports success. */
    SimpleReply simpleReply(int dataBytes) throws IOException {
        assertEquals(Nbd.SIMPLE_REPLY_MAGIC, in.readInt());
        int error = in.readInt();
        long cookie = in.readLong();
        byte[] data = new byte[error == 0 ? dataBytes : 0];
        in.readFully(data);
        return new SimpleReply(error, cookie, data);
    }

    /** Marks, in {@link #reply}, a successful simple reply. */
    static final int SIMPLE_SUCCESS = -1;

    /**
     * The next reply of a session with structured replies, where a success other than READ may be simple: a chunk
     * as read, or a simple success as a chunk of type {@link #SIMPLE_SUCCESS} (a simple error fails the test).
     */
    Chunk reply() throws IOException {
        int magic = in.readInt();
        if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
            assertEquals(0, in.readInt(), "a simple reply carries no error under structured replies");
            return new Chunk(Nbd.REPLY_FLAG_DONE, SIMPLE_SUCCESS, in.readLong(), new byte[0]);
        }
        assertEquals(Nbd.STRUCTURED_REPLY_MAGIC, magic);
        return chunkAfterMagic();
    }

    Chunk chunk() throws IOException {
        assertEquals(Nbd.STRUCTURED_REPLY_MAGIC, in.readInt());
        return chunkAfterMagic();
    }

    private Chunk chunkAfterMagic() throws IOException {
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        byte[] payload = new byte[in.readInt()];
        in.readFully(payload);
        return new Chunk(flags, type, cookie, payload);
    }

    /** Whether the server has closed the connection (reads to the end, discarding anything still sent). */
    boolean closedByServer() throws IOException {
        try {
            while (in.read() >= 0) {
                // drain
            }
            return true;
        } catch (EOFException e) {
            return true;
        } catch (IOException e) {
            return e.getMessage() != null && e.getMessage().contains("reset");
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}

package dev.loopdev.nbd.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loopdev.nbd.Nbd;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The one NBD client of the tests: deliberately small, it says exactly what a test tells it to, including what a
 * client must not (garbage, half requests, requests after DISC, duplicate cookies). Unit tests drive the server in
 * process with it; end-to-end tests drive the real {@code loopdev serve} with it where no real client will
 * misbehave on purpose.
 *
 * <p>Every read and write has a deadline of {@link #TIMEOUT}: a server that hangs fails the test with an
 * {@link AssertionError}, never passes for one that closed. TCP or unix sockets; fixed newstyle only.
 */
public final class NbdTestClient implements Closeable {
    public static final Duration TIMEOUT = Duration.ofSeconds(15);

    public record OptionReply(int option, int type, byte[] data) {
        public boolean isError() {
            return type < 0;
        }
    }

    /** A simple reply: the cookie it answers, its error (0: success) and, for a successful READ, the data. */
    public record SimpleReply(int error, long cookie, byte[] data) {
    }

    public record Chunk(int flags, int type, long cookie, byte[] payload) {
    }

    public record ExtendedChunk(int flags, int type, long cookie, long offset, byte[] payload) {
    }

    private final SocketChannel ch;
    private final Selector readable;
    private final Selector writable;
    private DataInputStream in;    // replaced by the TLS streams after STARTTLS
    private DataOutputStream out;
    private final AtomicLong cookies = new AtomicLong(1);
    private final Map<Long, Integer> readLengths = new HashMap<>();
    private long exportSize;
    private int transmissionFlags;

    private NbdTestClient(SocketChannel ch) throws IOException {
        this.ch = ch;
        ch.configureBlocking(false);
        this.readable = Selector.open();
        this.writable = Selector.open();
        ch.register(readable, SelectionKey.OP_READ);
        ch.register(writable, SelectionKey.OP_WRITE);
        this.in = new DataInputStream(new BufferedInputStream(new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return readSome(ByteBuffer.wrap(b, off, len));
            }
        }, 1 << 16));
        this.out = new DataOutputStream(new BufferedOutputStream(new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                writeAll(ByteBuffer.wrap(b, off, len));
            }
        }, 1 << 16));
    }

    /** A client on a socket connected by the caller (with its own options). */
    public static NbdTestClient adopt(SocketChannel ch) throws IOException {
        return new NbdTestClient(ch);
    }

    public static NbdTestClient connect(SocketAddress address) throws IOException {
        SocketChannel ch = address instanceof UnixDomainSocketAddress
                ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
        try {
            ch.connect(address); // blocking: a local connect completes or fails at once
            return new NbdTestClient(ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    public static NbdTestClient connect(Path unixSocket) throws IOException {
        return connect(UnixDomainSocketAddress.of(unixSocket));
    }

    /** Connects to {@code nbd://127.0.0.1:PORT/...} or {@code nbd+unix:///?socket=PATH} without negotiating. */
    public static NbdTestClient connect(String uri) throws IOException {
        URI u = URI.create(uri);
        if (u.getScheme().equals("nbd+unix")) {
            String q = u.getQuery();
            return connect(Path.of(q.substring(q.indexOf("socket=") + "socket=".length()).split("&")[0]));
        }
        assertEquals("127.0.0.1", u.getHost(), "tests talk to 127.0.0.1 only");
        return connect(new InetSocketAddress("127.0.0.1", u.getPort()));
    }

    /** Connects to a unix socket and negotiates its default export with GO and simple replies. */
    public static NbdTestClient open(Path unixSocket) throws IOException {
        NbdTestClient c = connect(unixSocket);
        try {
            c.go("", false);
            return c;
        } catch (IOException | RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    /** Connects to {@code uri} and negotiates {@code name} the oldest way, with EXPORT_NAME. */
    public static NbdTestClient openExportName(String uri, String name) throws IOException {
        NbdTestClient c = connect(uri);
        try {
            c.exportName(name);
            return c;
        } catch (IOException | RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    // ---- the socket

    private int readSome(ByteBuffer b) throws IOException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (true) {
            int n = ch.read(b);
            if (n != 0 || !b.hasRemaining()) {
                return n;
            }
            await(readable, deadline, "answer");
        }
    }

    private void writeAll(ByteBuffer b) throws IOException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (b.hasRemaining()) {
            if (ch.write(b) == 0) {
                await(writable, deadline, "read what was sent");
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

    /** The stream replies are read from: the socket's, or the TLS session's after {@link #useStreams}. */
    public DataInputStream in() {
        return in;
    }

    /** The stream requests are written to; flush it after writing by hand. */
    public DataOutputStream out() {
        return out;
    }

    public SocketChannel channel() {
        return ch;
    }

    /** Switches to TLS streams (after STARTTLS was acknowledged and the TLS handshake done on the old ones). */
    public void useStreams(InputStream tlsIn, OutputStream tlsOut) {
        in = new DataInputStream(new BufferedInputStream(tlsIn, 1 << 16));
        out = new DataOutputStream(new BufferedOutputStream(tlsOut, 1 << 16));
    }

    /** Sends raw bytes, as they are. */
    public void sendBytes(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Sends {@code b}'s remaining bytes, as they are. */
    public void sendBytes(ByteBuffer b) throws IOException {
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        sendBytes(bytes);
    }

    /** Reads exactly {@code n} bytes, flipped for reading. */
    public ByteBuffer readBytes(int n) throws IOException {
        byte[] b = new byte[n];
        in.readFully(b);
        return ByteBuffer.wrap(b);
    }

    /** Half-closes: the server sees the end of the stream, and can still answer. */
    public void shutdownOutput() throws IOException {
        out.flush();
        ch.shutdownOutput();
    }

    /**
     * Waits for the server to close the connection; returns the bytes it sent first (a reset counts as a close).
     * Fails when it keeps the connection open for {@link #TIMEOUT}.
     */
    public long awaitClose() throws IOException {
        long bytes = 0;
        try {
            while (in.read() >= 0) {
                bytes++;
            }
        } catch (IOException reset) {
            // a reset is a close too
        }
        return bytes;
    }

    /** Whether the server has closed the connection (reads to the end, discarding anything still sent). */
    public boolean closedByServer() throws IOException {
        awaitClose();
        return true;
    }

    // ---- the handshake

    /** Reads the greeting and returns the handshake flags. */
    public int greeting() throws IOException {
        assertEquals(Nbd.NBDMAGIC, in.readLong(), "NBDMAGIC");
        assertEquals(Nbd.IHAVEOPT, in.readLong(), "IHAVEOPT (fixed newstyle)");
        return in.readUnsignedShort();
    }

    public void clientFlags(int flags) throws IOException {
        out.writeInt(flags);
        out.flush();
    }

    public void option(int option, byte[] data) throws IOException {
        out.writeLong(Nbd.IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    /** An option with {@code data}'s remaining bytes. */
    public void option(int option, ByteBuffer data) throws IOException {
        byte[] bytes = new byte[data.remaining()];
        data.get(bytes);
        option(option, bytes);
    }

    public OptionReply optionReply() throws IOException {
        assertEquals(Nbd.OPTION_REPLY_MAGIC, in.readLong(), "option reply magic");
        int option = in.readInt();
        int type = in.readInt();
        int length = in.readInt();
        if (length < 0 || length > 1 << 20) {
            throw new AssertionError("option reply of " + Integer.toUnsignedString(length) + " bytes");
        }
        byte[] data = new byte[length];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    /** Replies to an option up to and including the ACK or first error. */
    public List<OptionReply> optionReplies() throws IOException {
        List<OptionReply> replies = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            OptionReply r = optionReply();
            replies.add(r);
            if (r.type() == Nbd.REP_ACK || r.isError()) {
                return replies;
            }
        }
        throw new AssertionError("no end to the replies");
    }

    /** INFO or GO data: name, then the info requests. */
    public static byte[] infoRequest(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length).putInt(n.length).put(n)
                .putShort((short) infos.length);
        for (int i : infos) {
            b.putShort((short) i);
        }
        return b.array();
    }

    /** LIST_META_CONTEXT or SET_META_CONTEXT data. */
    public static byte[] metaContextRequest(String export, String... queries) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
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
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Negotiates fixed newstyle with NO_ZEROES and GO; returns the transmission flags. */
    public int go(String name, boolean structured) throws IOException {
        greeting();
        clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        if (structured) {
            option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(Nbd.REP_ACK, optionReply().type());
        }
        return goOnly(name);
    }

    /** GO after whatever options were already sent; returns the transmission flags. */
    public int goOnly(String name) throws IOException {
        option(Nbd.OPT_GO, infoRequest(name));
        for (int i = 0; i < 10; i++) {
            OptionReply r = optionReply();
            assertEquals(Nbd.OPT_GO, r.option(), "option reply to GO");
            if (r.isError()) {
                throw new AssertionError("GO refused: 0x" + Integer.toHexString(r.type()));
            }
            if (r.type() == Nbd.REP_ACK) {
                return transmissionFlags;
            }
            ByteBuffer d = ByteBuffer.wrap(r.data());
            if (r.type() == Nbd.REP_INFO && d.getShort() == Nbd.INFO_EXPORT) {
                exportSize = d.getLong();
                transmissionFlags = Short.toUnsignedInt(d.getShort());
            }
        }
        throw new AssertionError("no ACK to GO");
    }

    /**
     * The oldest way in: EXPORT_NAME, after the greeting and client flags (NO_ZEROES when the server offers it);
     * returns the transmission flags.
     */
    public int exportName(String name) throws IOException {
        int handshakeFlags = greeting();
        clientFlags(handshakeFlags & (Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES));
        option(Nbd.OPT_EXPORT_NAME, name.getBytes(StandardCharsets.UTF_8));
        exportSize = in.readLong();
        transmissionFlags = in.readUnsignedShort();
        if ((handshakeFlags & Nbd.FLAG_NO_ZEROES) == 0) {
            in.readFully(new byte[124]);
        }
        return transmissionFlags;
    }

    /** The export's size, from GO's INFO_EXPORT or EXPORT_NAME's reply. */
    public long exportSize() {
        return exportSize;
    }

    public int transmissionFlags() {
        return transmissionFlags;
    }

    // ---- transmission

    /** One request with a compact header, and its payload if any, as given: the cookie is the caller's. */
    public void request(int flags, int type, long cookie, long offset, long length, byte[] payload)
            throws IOException {
        if (type == Nbd.CMD_READ) {
            synchronized (readLengths) {
                readLengths.put(cookie, (int) length);
            }
        }
        synchronized (this) {
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
    }

    /** A request with the next cookie of this client's own, without waiting for the reply; returns the cookie. */
    public long send(int flags, int type, long offset, long length, byte[] payload) throws IOException {
        long cookie = cookies.getAndIncrement();
        request(flags, type, cookie, offset, length, payload);
        return cookie;
    }

    public void extendedRequest(int flags, int type, long cookie, long offset, long length, byte[] payload)
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

    /** A simple reply; {@code dataBytes} of data follow it only when it reports success. */
    public SimpleReply simpleReply(int dataBytes) throws IOException {
        assertEquals(Nbd.SIMPLE_REPLY_MAGIC, in.readInt(), "simple reply magic");
        int error = in.readInt();
        long cookie = in.readLong();
        byte[] data = new byte[error == 0 ? dataBytes : 0];
        in.readFully(data);
        return new SimpleReply(error, cookie, data);
    }

    /**
     * The next simple reply, whatever request it answers: the data of a successful READ sent through this client
     * is read with it. Null when the server closed the connection cleanly between replies.
     */
    public SimpleReply receiveOrEnd() throws IOException {
        int first;
        try {
            first = in.read();
        } catch (IOException reset) {
            return null; // a reset between replies is a close too
        }
        if (first < 0) {
            return null;
        }
        int magic = first << 24 | in.readUnsignedByte() << 16 | in.readUnsignedShort();
        assertEquals(Nbd.SIMPLE_REPLY_MAGIC, magic, "simple reply magic");
        int error = in.readInt();
        long cookie = in.readLong();
        Integer readLength;
        synchronized (readLengths) {
            readLength = readLengths.remove(cookie);
        }
        byte[] data = new byte[readLength != null && error == 0 ? readLength : 0];
        in.readFully(data);
        return new SimpleReply(error, cookie, readLength != null && error == 0 ? data : null);
    }

    /** As {@link #receiveOrEnd}, but an end of the connection is an {@link EOFException}. */
    public SimpleReply receive() throws IOException {
        SimpleReply r = receiveOrEnd();
        if (r == null) {
            throw new EOFException("the server closed the connection instead of replying");
        }
        return r;
    }

    /** One request, one simple reply: for callers that do not pipeline. */
    public SimpleReply call(int flags, int type, long offset, long length, byte[] payload) throws IOException {
        long cookie = send(flags, type, offset, length, payload);
        SimpleReply r = receive();
        assertEquals(cookie, r.cookie(), "the reply's cookie");
        return r;
    }

    public byte[] read(long offset, int length) throws IOException {
        SimpleReply r = call(0, Nbd.CMD_READ, offset, length, null);
        assertEquals(0, r.error(), () -> "READ [" + offset + ", +" + length + ") error");
        return r.data();
    }

    /** A WRITE; returns its error (0: success). */
    public int write(long offset, byte[] data, boolean fua) throws IOException {
        return call(fua ? Nbd.CMD_FLAG_FUA : 0, Nbd.CMD_WRITE, offset, data.length, data).error();
    }

    public int flush() throws IOException {
        return call(0, Nbd.CMD_FLUSH, 0, 0, null).error();
    }

    /** NBD_CMD_DISC: the server answers nothing and closes once what is in flight is done. */
    public void disconnect() throws IOException {
        send(0, Nbd.CMD_DISC, 0, 0, null);
    }

    /** Marks, in {@link #reply}, a successful simple reply. */
    public static final int SIMPLE_SUCCESS = -1;

    /**
     * The next reply of a session with structured replies, where a success other than READ may be simple: a chunk
     * as read, or a simple success as a chunk of type {@link #SIMPLE_SUCCESS} (a simple error fails the test).
     */
    public Chunk reply() throws IOException {
        int magic = in.readInt();
        if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
            assertEquals(0, in.readInt(), "a simple reply carries no error under structured replies");
            return new Chunk(Nbd.REPLY_FLAG_DONE, SIMPLE_SUCCESS, in.readLong(), new byte[0]);
        }
        assertEquals(Nbd.STRUCTURED_REPLY_MAGIC, magic);
        return chunkAfterMagic();
    }

    public Chunk chunk() throws IOException {
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

    public ExtendedChunk extendedChunk() throws IOException {
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

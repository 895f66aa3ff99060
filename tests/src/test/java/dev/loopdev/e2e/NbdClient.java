package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An NBD client over a unix socket that can pipeline: {@link #send} from one thread, {@link #receive} from another,
 * replies matched to requests by cookie. Simple replies only (it never asks for structured ones). Negotiates with
 * OPT_GO; {@link #socket()} gives the raw connection to tests that misbehave on purpose.
 */
final class NbdClient implements AutoCloseable {
    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_LIST = 3;
    static final int OPT_INFO = 6;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;
    static final int REP_ACK = 1;
    static final int REP_INFO = 3;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final short CMD_READ = 0;
    static final short CMD_WRITE = 1;
    static final short CMD_DISC = 2;
    static final short CMD_FLUSH = 3;
    static final short CMD_TRIM = 4;
    static final short CMD_WRITE_ZEROES = 6;
    static final short FLAG_FUA = 1;
    static final short FLAG_NO_HOLE = 2;
    static final int TFLAG_READ_ONLY = 1 << 1;
    static final int TFLAG_CAN_MULTI_CONN = 1 << 8;
    // NBD errors on the wire
    static final int EPERM = 1;
    static final int EIO = 5;
    static final int EINVAL = 22;
    static final int ENOSPC = 28;
    static final int EOVERFLOW = 75;

    /** One reply: the cookie it answers, its error (0: success) and, for a successful READ, the data. */
    record Reply(long cookie, int error, byte[] data) {
    }

    private final NbdSocket socket;
    private final AtomicLong cookies = new AtomicLong(1);
    private final Map<Long, Integer> readLengths = new HashMap<>();
    long exportSize;
    int transmissionFlags;

    private NbdClient(NbdSocket socket) {
        this.socket = socket;
    }

    /** Connects without negotiating: the test speaks first. */
    static NbdClient raw(Path unix) throws IOException {
        return new NbdClient(NbdSocket.connect(unix));
    }

    /** Connects and negotiates the default export with OPT_GO. */
    static NbdClient open(Path unix) throws IOException {
        NbdClient c = raw(unix);
        try {
            c.greeting();
            c.socket.write(ByteBuffer.allocate(4).putInt(3).flip()); // fixed newstyle, no zeroes
            c.go();
            return c;
        } catch (IOException | RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    NbdSocket socket() {
        return socket;
    }

    /** Reads and checks the greeting; returns the handshake flags. */
    int greeting() throws IOException {
        ByteBuffer g = socket.read(18);
        assertEquals(NBDMAGIC, g.getLong(), "NBDMAGIC");
        assertEquals(IHAVEOPT, g.getLong(), "IHAVEOPT");
        return Short.toUnsignedInt(g.getShort());
    }

    void option(int option, ByteBuffer data) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(16 + data.remaining()).putLong(IHAVEOPT).putInt(option)
                .putInt(data.remaining()).put(data).flip();
        socket.write(h);
    }

    /** One option reply: {option, type, payload}. */
    record OptionReply(int option, int type, byte[] payload) {
        boolean isError() {
            return type < 0;
        }
    }

    OptionReply optionReply() throws IOException {
        ByteBuffer h = socket.read(20);
        assertEquals(OPTION_REPLY_MAGIC, h.getLong(), "option reply magic");
        int option = h.getInt();
        int type = h.getInt();
        int length = h.getInt();
        if (length < 0 || length > 1 << 20) {
            throw new AssertionError("option reply of " + Integer.toUnsignedString(length) + " bytes");
        }
        byte[] payload = new byte[length];
        socket.readFully(ByteBuffer.wrap(payload));
        return new OptionReply(option, type, payload);
    }

    /** OPT_GO for the default export; reads INFO replies up to the ACK. */
    void go() throws IOException {
        option(OPT_GO, ByteBuffer.allocate(6).putInt(0).putShort((short) 0).flip());
        while (true) {
            OptionReply r = optionReply();
            assertEquals(OPT_GO, r.option(), "option reply to GO");
            if (r.isError()) {
                throw new AssertionError("GO refused: 0x" + Integer.toHexString(r.type()));
            }
            if (r.type() == REP_ACK) {
                return;
            }
            ByteBuffer info = ByteBuffer.wrap(r.payload());
            if (r.type() == REP_INFO && info.getShort() == 0) {
                exportSize = info.getLong();
                transmissionFlags = Short.toUnsignedInt(info.getShort());
            }
        }
    }

    /** Sends one request without waiting; returns its cookie. */
    long send(short type, short flags, long offset, int length, byte[] payload) throws IOException {
        long cookie = cookies.getAndIncrement();
        sendAs(cookie, type, flags, offset, length, payload);
        return cookie;
    }

    /** Sends a request with a cookie of the caller's choosing (duplicates, say). */
    synchronized void sendAs(long cookie, short type, short flags, long offset, int length, byte[] payload)
            throws IOException {
        if (type == CMD_READ) {
            synchronized (readLengths) {
                readLengths.put(cookie, length);
            }
        }
        ByteBuffer b = ByteBuffer.allocate(28 + (payload == null ? 0 : payload.length))
                .putInt(REQUEST_MAGIC).putShort(flags).putShort(type).putLong(cookie).putLong(offset).putInt(length);
        if (payload != null) {
            b.put(payload);
        }
        socket.write(b.flip());
    }

    /** Reads the next simple reply, whatever request it answers. */
    Reply receive() throws IOException {
        Reply r = receiveOrEnd();
        if (r == null) {
            throw new java.io.EOFException("the server closed the connection instead of replying");
        }
        return r;
    }

    /** The next reply, or null when the server closed the connection cleanly between replies. */
    Reply receiveOrEnd() throws IOException {
        ByteBuffer h = ByteBuffer.allocate(16);
        if (!socket.readFullyOrEnd(h)) {
            return null;
        }
        h.flip();
        int magic = h.getInt();
        if (magic != SIMPLE_REPLY_MAGIC) {
            throw new AssertionError("reply magic 0x" + Integer.toHexString(magic));
        }
        int error = h.getInt();
        long cookie = h.getLong();
        Integer readLength;
        synchronized (readLengths) {
            readLength = readLengths.remove(cookie);
        }
        byte[] data = null;
        if (readLength != null && error == 0) {
            data = new byte[readLength];
            socket.readFully(ByteBuffer.wrap(data));
        }
        return new Reply(cookie, error, data);
    }

    /** One request, one reply: for callers that do not pipeline. */
    Reply call(short type, short flags, long offset, int length, byte[] payload) throws IOException {
        long cookie = send(type, flags, offset, length, payload);
        Reply r = receive();
        assertEquals(cookie, r.cookie(), "the reply's cookie");
        return r;
    }

    byte[] read(long offset, int length) throws IOException {
        Reply r = call(CMD_READ, (short) 0, offset, length, null);
        assertEquals(0, r.error(), () -> "READ [" + offset + ", +" + length + ") error");
        return r.data();
    }

    int write(long offset, byte[] data, boolean fua) throws IOException {
        return call(CMD_WRITE, fua ? FLAG_FUA : 0, offset, data.length, data).error();
    }

    int flush() throws IOException {
        return call(CMD_FLUSH, (short) 0, 0, 0, null).error();
    }

    /** NBD_CMD_DISC: the server answers nothing and closes once what is in flight is done. */
    void disconnect() throws IOException {
        send(CMD_DISC, (short) 0, 0, 0, null);
    }

    @Override
    public void close() {
        socket.close();
    }
}

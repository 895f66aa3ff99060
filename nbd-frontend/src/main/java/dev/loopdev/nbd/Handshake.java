package dev.loopdev.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Fixed newstyle negotiation, server side: greet, then answer options until the client picks an export (GO or
 * EXPORT_NAME) or gives up (ABORT). Unknown options are refused with {@code ERR_UNSUP} and haggling goes on, as the
 * spec asks; only a broken MUST, or options too large or too many to be honest, end the connection.
 *
 * <p>The negotiation is a series of steps, each fed one whole message of the client's ({@link #clientFlags}, then
 * per option {@link #optionHeader} and {@link #option}), so that the {@link Negotiator} can collect messages from
 * every client on one thread without a thread waiting on any of them. Replies go to the channel the handshake
 * was made with. {@link #options} runs the option steps reading a blocking channel, as the rest of a negotiation
 * over TLS does on a thread of its own.
 *
 * <p>After STARTTLS the rest of the negotiation, and the whole transmission, runs over TLS; whatever was
 * negotiated before it (structured replies, extended headers, meta contexts) is forgotten, since an attacker could
 * have chosen it.
 */
final class Handshake {
    /** An option is a name and a few queries; anything this big is not an honest client. */
    static final int MAX_OPTION_BYTES = 64 * 1024;
    static final int GREETING_BYTES = 18;
    static final int CLIENT_FLAGS_BYTES = 4;
    static final int OPTION_HEADER_BYTES = 16;

    /** What the client chose, and the channel the transmission runs on (TLS or the socket itself). */
    record Session(Export export, ByteChannel channel, boolean structuredReplies, boolean extendedHeaders,
                   boolean baseAllocation, boolean tls) {
    }

    private final List<Export> exports;
    private final TlsMode tlsMode;
    private final TlsCredentials credentials;
    private final String peer;
    private final int maxOptions;
    private final long maxOptionBytes;
    private ByteChannel ch;
    private ByteChannel transmission;
    private boolean noZeroes;
    private boolean tls;
    private boolean structuredReplies;
    private boolean extendedHeaders;
    private Export metaContextExport; // the export base:allocation was selected for; null when none was
    private boolean aborted;
    private boolean startingTls;
    private int options;
    private long optionBytes;
    private int option; // the option whose data comes next

    /**
     * @param ch             where replies go (and, for {@link #options}, where messages come from)
     * @param socket         the client's socket: the transmission's channel unless TLS replaces it
     * @param maxOptions     options a client may send in all before it is cut off
     * @param maxOptionBytes bytes of options (headers and data) a client may send in all
     */
    Handshake(ByteChannel ch, ByteChannel socket, List<Export> exports, TlsMode tlsMode, TlsCredentials credentials,
              String peer, int maxOptions, long maxOptionBytes) {
        this.ch = ch;
        this.transmission = socket;
        this.exports = exports;
        this.tlsMode = tlsMode;
        this.credentials = credentials;
        this.peer = peer;
        this.maxOptions = maxOptions;
        this.maxOptionBytes = maxOptionBytes;
    }

    /** Answers options read from the blocking channel until the negotiation ends (going on after STARTTLS). */
    Session options() throws IOException {
        while (true) {
            int length = optionHeader(Wire.read(ch, OPTION_HEADER_BYTES));
            Session chosen = option(Wire.read(ch, length));
            if (startingTls) {
                startTls(ch);
            } else if (chosen != null || aborted) {
                return chosen;
            }
        }
    }

    /** What the server says first. */
    ByteBuffer greeting() {
        return ByteBuffer.allocate(GREETING_BYTES).putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT)
                .putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES)).flip();
    }

    /** The client's flags, its first message. */
    void clientFlags(int clientFlags) throws NbdProtocolException {
        if ((clientFlags & ~(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)) != 0) {
            throw new NbdProtocolException("unknown client flags 0x" + Integer.toHexString(clientFlags));
        }
        noZeroes = (clientFlags & Nbd.FLAG_C_NO_ZEROES) != 0;
    }

    /**
     * An option's header: checks it and counts it against the bounds on haggling; returns how many bytes of data
     * follow it, which go to {@link #option}.
     */
    int optionHeader(ByteBuffer h) throws NbdProtocolException {
        long magic = h.getLong();
        int opt = h.getInt();
        long length = Integer.toUnsignedLong(h.getInt());
        if (magic != Nbd.IHAVEOPT) {
            throw new NbdProtocolException("bad option magic 0x" + Long.toHexString(magic));
        }
        if (length > MAX_OPTION_BYTES) {
            throw new NbdProtocolException("option " + opt + " of " + length + " bytes is too large");
        }
        if (++options > maxOptions) {
            throw new NbdProtocolException("more than " + maxOptions + " options");
        }
        optionBytes += OPTION_HEADER_BYTES + length;
        if (optionBytes > maxOptionBytes) {
            throw new NbdProtocolException("more than " + maxOptionBytes + " bytes of options");
        }
        option = opt;
        return (int) length;
    }

    /**
     * Answers the option whose header came last, {@code data} being all of its data. Returns the session when the
     * client chose an export; null when negotiation goes on, or ended ({@link #aborted}), or must first switch to
     * TLS ({@link #startingTls}).
     */
    Session option(ByteBuffer data) throws IOException {
        return option(option, data);
    }

    /** The client sent ABORT: the negotiation is over, with nothing chosen. */
    boolean aborted() {
        return aborted;
    }

    /** STARTTLS was acknowledged: {@link #startTls} must run before anything else is read or written. */
    boolean startingTls() {
        return startingTls;
    }

    /** The server side of the TLS handshake on {@code raw}; the negotiation goes on over TLS ({@link #options}). */
    void startTls(ByteChannel raw) throws IOException {
        startingTls = false;
        ch = credentials.accept(raw, peer);
        transmission = ch;
        tls = true;
    }

    private Session option(int option, ByteBuffer data) throws IOException {
        if (option == Nbd.OPT_ABORT) {
            aborted = true;
            try {
                reply(option, Nbd.REP_ACK, null);
            } catch (IOException e) {
                // the spec lets a client close without waiting for this ACK
            }
            return null;
        }
        if (tlsMode == TlsMode.REQUIRE && !tls && option != Nbd.OPT_STARTTLS) {
            if (option == Nbd.OPT_EXPORT_NAME) {
                throw new NbdProtocolException("EXPORT_NAME without TLS, which this server requires");
            }
            error(option, Nbd.REP_ERR_TLS_REQD, "this server requires TLS: use STARTTLS first");
            return null;
        }
        switch (option) {
            case Nbd.OPT_EXPORT_NAME:
                return exportName(data);
            case Nbd.OPT_STARTTLS:
                startTls(data);
                return null;
            case Nbd.OPT_LIST:
                list(data);
                return null;
            case Nbd.OPT_STRUCTURED_REPLY:
                if (data.hasRemaining()) {
                    error(option, Nbd.REP_ERR_INVALID, "STRUCTURED_REPLY takes no data");
                } else if (extendedHeaders) {
                    error(option, Nbd.REP_ERR_EXT_HEADER_REQD, "extended headers are already in use");
                } else {
                    structuredReplies = true;
                    reply(option, Nbd.REP_ACK, null);
                }
                return null;
            case Nbd.OPT_EXTENDED_HEADERS:
                if (data.hasRemaining()) {
                    error(option, Nbd.REP_ERR_INVALID, "EXTENDED_HEADERS takes no data");
                } else if (extendedHeaders) {
                    error(option, Nbd.REP_ERR_INVALID, "extended headers are already in use");
                } else {
                    extendedHeaders = true;   // and with them structured replies, which they replace
                    structuredReplies = true;
                    reply(option, Nbd.REP_ACK, null);
                }
                return null;
            case Nbd.OPT_LIST_META_CONTEXT:
            case Nbd.OPT_SET_META_CONTEXT:
                metaContext(option, data);
                return null;
            case Nbd.OPT_INFO:
            case Nbd.OPT_GO:
                return infoOrGo(option, data);
            default:
                error(option, Nbd.REP_ERR_UNSUP, "option " + option + " is not supported");
                return null;
        }
    }

    private void startTls(ByteBuffer data) throws IOException {
        if (tlsMode == TlsMode.OFF || credentials == null) {
            error(Nbd.OPT_STARTTLS, Nbd.REP_ERR_UNSUP, "TLS is not enabled on this server");
        } else if (data.hasRemaining()) {
            error(Nbd.OPT_STARTTLS, Nbd.REP_ERR_INVALID, "STARTTLS takes no data");
        } else if (tls) {
            error(Nbd.OPT_STARTTLS, Nbd.REP_ERR_INVALID, "TLS is already in use");
        } else {
            reply(Nbd.OPT_STARTTLS, Nbd.REP_ACK, null);
            startingTls = true;
            structuredReplies = false;
            extendedHeaders = false;
            metaContextExport = null;
        }
    }

    private void list(ByteBuffer data) throws IOException {
        if (data.hasRemaining()) {
            error(Nbd.OPT_LIST, Nbd.REP_ERR_INVALID, "LIST takes no data");
            return;
        }
        for (Export e : exports) {
            byte[] name = utf8(e.name());
            reply(Nbd.OPT_LIST, Nbd.REP_SERVER, ByteBuffer.allocate(4 + name.length).putInt(name.length).put(name));
        }
        reply(Nbd.OPT_LIST, Nbd.REP_ACK, null);
    }

    private void metaContext(int option, ByteBuffer data) throws IOException {
        boolean list = option == Nbd.OPT_LIST_META_CONTEXT;
        if (!structuredReplies) {
            error(option, Nbd.REP_ERR_INVALID, "meta contexts need structured replies first");
            return;
        }
        MetaContextQuery q = MetaContextQuery.parse(data);
        if (q == null) {
            error(option, Nbd.REP_ERR_INVALID, "malformed meta context query");
            return;
        }
        Export e = find(q.exportName());
        if (e == null) {
            error(option, Nbd.REP_ERR_UNKNOWN, "no export named '" + q.exportName() + "'");
            return;
        }
        List<String> contexts = q.matches(list);
        if (!list) {
            metaContextExport = contexts.isEmpty() ? null : e;
        }
        for (String c : contexts) {
            byte[] name = utf8(c);
            reply(option, Nbd.REP_META_CONTEXT, ByteBuffer.allocate(4 + name.length)
                    .putInt(list ? 0 : Nbd.BASE_ALLOCATION_ID).put(name));
        }
        reply(option, Nbd.REP_ACK, null);
    }

    /** The old way in: no way to refuse politely, so an unknown name ends the session, as the spec says. */
    private Session exportName(ByteBuffer data) throws IOException {
        if (data.remaining() > Nbd.MAX_STRING_BYTES) {
            throw new NbdProtocolException("export name of " + data.remaining() + " bytes is too long");
        }
        String name = string(data, data.remaining());
        Export e = find(name);
        if (e == null) {
            throw new NbdProtocolException("EXPORT_NAME: no export named '" + name + "'");
        }
        ByteBuffer b = ByteBuffer.allocate(10 + (noZeroes ? 0 : 124))
                .putLong(e.device().size()).putShort((short) e.transmissionFlags(structuredReplies));
        Wire.writeFully(ch, b.position(b.limit()).flip());
        return session(e);
    }

    /** INFO and GO: u32 name length, name, u16 number of info requests, u16 each. */
    private Session infoOrGo(int option, ByteBuffer data) throws IOException {
        if (data.remaining() < 6) {
            error(option, Nbd.REP_ERR_INVALID, "option data too short");
            return null;
        }
        long nameLength = Integer.toUnsignedLong(data.getInt());
        if (nameLength > Nbd.MAX_STRING_BYTES || nameLength > data.remaining() - 2) {
            error(option, Nbd.REP_ERR_INVALID, "bad export name length " + nameLength);
            return null;
        }
        String name = string(data, (int) nameLength);
        int requests = Short.toUnsignedInt(data.getShort());
        if (data.remaining() != 2 * requests) {
            error(option, Nbd.REP_ERR_INVALID, "option length does not match " + requests + " info requests");
            return null;
        }
        Export e = find(name);
        if (e == null) {
            error(option, Nbd.REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return null;
        }
        boolean wantName = false;
        for (int i = 0; i < requests; i++) {
            wantName |= data.getShort() == Nbd.INFO_NAME;
        }
        info(option, ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT)
                .putLong(e.device().size()).putShort((short) e.transmissionFlags(structuredReplies)));
        if (wantName) {
            byte[] canonical = utf8(e.name());
            info(option, ByteBuffer.allocate(2 + canonical.length).putShort((short) Nbd.INFO_NAME).put(canonical));
        }
        // Sent whether asked or not, as qemu-nbd does: it only tells the client what it may rely on.
        info(option, ByteBuffer.allocate(14).putShort((short) Nbd.INFO_BLOCK_SIZE)
                .putInt(e.minimumBlockSize()).putInt(e.preferredBlockSize()).putInt(e.maximumBlockSize()));
        reply(option, Nbd.REP_ACK, null);
        return option == Nbd.OPT_GO ? session(e) : null;
    }

    /** A context selected for another export than the one finally chosen is void, as the spec says. */
    private Session session(Export e) {
        return new Session(e, transmission, structuredReplies, extendedHeaders, metaContextExport == e, tls);
    }

    /** The export a name means: an exact match, else for the empty name the first export (the default). */
    private Export find(String name) {
        for (Export e : exports) {
            if (e.name().equals(name)) {
                return e;
            }
        }
        return name.isEmpty() && !exports.isEmpty() ? exports.get(0) : null;
    }

    private void info(int option, ByteBuffer payload) throws IOException {
        reply(option, Nbd.REP_INFO, payload);
    }

    private void error(int option, int type, String message) throws IOException {
        byte[] m = utf8(message);
        reply(option, type, ByteBuffer.allocate(m.length).put(m));
    }

    /** An option reply; {@code payload} is written from 0 to its position. */
    private void reply(int option, int type, ByteBuffer payload) throws IOException {
        int length = payload == null ? 0 : payload.position();
        ByteBuffer h = ByteBuffer.allocate(20 + length).putLong(Nbd.OPTION_REPLY_MAGIC).putInt(option)
                .putInt(type).putInt(length);
        if (payload != null) {
            h.put(payload.flip());
        }
        Wire.writeFully(ch, h.flip()); // one write: over TLS, one record
    }

    private static String string(ByteBuffer data, int length) {
        byte[] b = new byte[length];
        data.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}

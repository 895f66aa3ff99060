package dev.loopdev.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;

/**
 * Fixed newstyle negotiation, server side: greet, then answer options until the client picks the export (GO or
 * EXPORT_NAME) or gives up (ABORT). Unknown options are refused with {@code ERR_UNSUP} and haggling goes on, as the
 * spec asks; only a broken MUST, or an option too large or too many to be honest, ends the connection.
 */
final class Handshake {
    /** An option is a name and a few 16-bit info requests; anything this big is not an honest client. */
    static final int MAX_OPTION_BYTES = 64 * 1024;
    static final int MAX_OPTIONS = 256;

    /** What the client chose: the export, and whether it understands structured replies. */
    record Session(Export export, boolean structuredReplies) {
    }

    private final ByteChannel ch;
    private final Export export;
    private boolean noZeroes;
    private boolean structuredReplies;
    private boolean aborted;

    Handshake(ByteChannel ch, Export export) {
        this.ch = ch;
        this.export = export;
    }

    /** Runs the negotiation; null when the client ended it with ABORT. */
    Session negotiate() throws IOException {
        ByteBuffer greeting = ByteBuffer.allocate(18).putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT)
                .putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES)).flip();
        Wire.writeFully(ch, greeting);
        int clientFlags = Wire.read(ch, 4).getInt();
        if ((clientFlags & ~(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)) != 0) {
            throw new NbdProtocolException("unknown client flags 0x" + Integer.toHexString(clientFlags));
        }
        noZeroes = (clientFlags & Nbd.FLAG_C_NO_ZEROES) != 0;
        for (int i = 0; i < MAX_OPTIONS; i++) {
            ByteBuffer h = Wire.read(ch, 16);
            long magic = h.getLong();
            int option = h.getInt();
            long length = Integer.toUnsignedLong(h.getInt());
            if (magic != Nbd.IHAVEOPT) {
                throw new NbdProtocolException("bad option magic 0x" + Long.toHexString(magic));
            }
            if (length > MAX_OPTION_BYTES) {
                throw new NbdProtocolException("option " + option + " of " + length + " bytes is too large");
            }
            Session chosen = option(option, Wire.read(ch, (int) length));
            if (chosen != null || aborted) {
                return chosen;
            }
        }
        throw new NbdProtocolException("more than " + MAX_OPTIONS + " options");
    }

    private Session option(int option, ByteBuffer data) throws IOException {
        switch (option) {
            case Nbd.OPT_EXPORT_NAME:
                return exportName(data);
            case Nbd.OPT_ABORT:
                aborted = true;
                try {
                    reply(option, Nbd.REP_ACK, null);
                } catch (IOException e) {
                    // the spec lets a client close without waiting for this ACK
                }
                return null;
            case Nbd.OPT_LIST:
                if (data.hasRemaining()) {
                    error(option, Nbd.REP_ERR_INVALID, "LIST takes no data");
                    return null;
                }
                byte[] name = utf8(export.name());
                reply(option, Nbd.REP_SERVER, ByteBuffer.allocate(4 + name.length).putInt(name.length).put(name));
                reply(option, Nbd.REP_ACK, null);
                return null;
            case Nbd.OPT_STRUCTURED_REPLY:
                if (data.hasRemaining()) {
                    error(option, Nbd.REP_ERR_INVALID, "STRUCTURED_REPLY takes no data");
                    return null;
                }
                structuredReplies = true;
                reply(option, Nbd.REP_ACK, null);
                return null;
            case Nbd.OPT_INFO:
            case Nbd.OPT_GO:
                return infoOrGo(option, data);
            default:
                error(option, Nbd.REP_ERR_UNSUP, "option " + option + " is not supported");
                return null;
        }
    }

    /** The old way in: no way to refuse politely, so an unknown name ends the session, as the spec says. */
    private Session exportName(ByteBuffer data) throws IOException {
        if (data.remaining() > Nbd.MAX_STRING_BYTES) {
            throw new NbdProtocolException("export name of " + data.remaining() + " bytes is too long");
        }
        String name = string(data, data.remaining());
        if (!export.answersTo(name)) {
            throw new NbdProtocolException("EXPORT_NAME: no export named '" + name + "'");
        }
        ByteBuffer b = ByteBuffer.allocate(10 + (noZeroes ? 0 : 124))
                .putLong(export.device().size()).putShort((short) export.transmissionFlags());
        Wire.writeFully(ch, b.position(b.limit()).flip());
        return new Session(export, structuredReplies);
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
        if (!export.answersTo(name)) {
            error(option, Nbd.REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return null;
        }
        boolean wantName = false;
        for (int i = 0; i < requests; i++) {
            wantName |= data.getShort() == Nbd.INFO_NAME;
        }
        info(option, ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT)
                .putLong(export.device().size()).putShort((short) export.transmissionFlags()));
        if (wantName) {
            byte[] canonical = utf8(export.name());
            info(option, ByteBuffer.allocate(2 + canonical.length).putShort((short) Nbd.INFO_NAME).put(canonical));
        }
        // Sent whether asked or not, as qemu-nbd does: it only tells the client what it may rely on.
        info(option, ByteBuffer.allocate(14).putShort((short) Nbd.INFO_BLOCK_SIZE)
                .putInt(export.minimumBlockSize()).putInt(export.preferredBlockSize())
                .putInt(export.maximumBlockSize()));
        reply(option, Nbd.REP_ACK, null);
        return option == Nbd.OPT_GO ? new Session(export, structuredReplies) : null;
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
        ByteBuffer h = ByteBuffer.allocate(20).putLong(Nbd.OPTION_REPLY_MAGIC).putInt(option).putInt(type)
                .putInt(length).flip();
        Wire.writeFully(ch, h);
        if (payload != null) {
            Wire.writeFully(ch, payload.flip());
        }
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

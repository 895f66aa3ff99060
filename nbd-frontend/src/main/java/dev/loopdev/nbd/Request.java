package dev.loopdev.nbd;

import dev.loopdev.Errno;
import java.nio.ByteBuffer;

/** One transmission request's header as read off the wire; what it holds in flight is {@link PendingRequest}'s. */
final class Request {
    final int flags;
    final int type;
    final long cookie;
    final long offset;   // unsigned on the wire; validated before use
    final long length;   // unsigned 32 bits, or 64 with extended headers; validated before use

    Request(int flags, int type, long cookie, long offset, long length) {
        this.flags = flags;
        this.type = type;
        this.cookie = cookie;
        this.offset = offset;
        this.length = length;
    }

    /** Parses what follows the magic: 24 bytes of a compact header, or 28 of an extended one (64-bit length). */
    static Request parse(ByteBuffer h, boolean extended) {
        int flags = Short.toUnsignedInt(h.getShort());
        int type = Short.toUnsignedInt(h.getShort());
        long cookie = h.getLong();
        long offset = h.getLong();
        long length = extended ? h.getLong() : Integer.toUnsignedLong(h.getInt());
        return new Request(flags, type, cookie, offset, length);
    }

    boolean fua() {
        return (flags & Nbd.CMD_FLAG_FUA) != 0;
    }

    boolean has(int flag) {
        return (flags & flag) != 0;
    }

    /** Bytes of payload this request carries in either direction, which is what it costs us in buffers. */
    int payloadBytes() {
        return type == Nbd.CMD_READ || type == Nbd.CMD_WRITE ? (int) length : 0;
    }

    /** Why a request is refused before it reaches the device. */
    record Rejection(Errno errno, String message) {
    }

    /**
     * Validates the request once, at the edge, as nbdkit's {@code validate_request}: the device behind it only
     * asserts. Returns null when the request may run.
     */
    Rejection check(Handshake.Session session) {
        Export export = session.export();
        String name = Nbd.commandName(type);
        switch (type) {
            case Nbd.CMD_READ, Nbd.CMD_WRITE, Nbd.CMD_FLUSH, Nbd.CMD_TRIM, Nbd.CMD_WRITE_ZEROES, Nbd.CMD_CACHE,
                    Nbd.CMD_BLOCK_STATUS -> { }
            default -> {
                return new Rejection(Errno.EINVAL, "unknown command " + type);
            }
        }
        if ((flags & ~allowedFlags(session)) != 0) {
            return new Rejection(Errno.EINVAL, "flags 0x" + Integer.toHexString(flags) + " are not valid for "
                    + name);
        }
        boolean writes = type == Nbd.CMD_WRITE || type == Nbd.CMD_TRIM || type == Nbd.CMD_WRITE_ZEROES;
        if (writes && export.device().isReadOnly()) {
            return new Rejection(Errno.EPERM, name + " on a read-only export");
        }
        if (type == Nbd.CMD_TRIM && !export.canTrim()) {
            return new Rejection(Errno.EINVAL, "TRIM was not offered for this export");
        }
        if (type == Nbd.CMD_BLOCK_STATUS && !session.baseAllocation()) {
            return new Rejection(Errno.EINVAL, "BLOCK_STATUS without a meta context selected");
        }
        if (type == Nbd.CMD_FLUSH) {
            return offset == 0 && length == 0 ? null
                    : new Rejection(Errno.EINVAL, "FLUSH with a non-zero offset or length");
        }
        if (Long.compareUnsigned(length, export.maximumBlockSize()) > 0
                && (type == Nbd.CMD_READ || type == Nbd.CMD_WRITE)) {
            return new Rejection(Errno.EOVERFLOW, name + " of " + Long.toUnsignedString(length)
                    + " bytes is larger than the maximum of " + export.maximumBlockSize());
        }
        long size = export.device().size();
        if (Long.compareUnsigned(offset, size) > 0 || Long.compareUnsigned(length, size - offset) > 0) {
            // The spec: ENOSPC for a write (or write zeroes) beyond the end; EINVAL for anything else.
            Errno e = type == Nbd.CMD_WRITE || type == Nbd.CMD_WRITE_ZEROES ? Errno.ENOSPC : Errno.EINVAL;
            return new Rejection(e, name + " [" + Long.toUnsignedString(offset) + ", +"
                    + Long.toUnsignedString(length) + ") is beyond the end of the export (" + size + " bytes)");
        }
        if (type == Nbd.CMD_BLOCK_STATUS && length == 0) {
            return new Rejection(Errno.EINVAL, "BLOCK_STATUS of no bytes");
        }
        return null;
    }

    /** Flags are valid only on the commands they mean something to, and only once offered. */
    private int allowedFlags(Handshake.Session session) {
        int allowed = Nbd.CMD_FLAG_FUA;
        switch (type) {
            case Nbd.CMD_READ -> allowed |= session.structuredReplies() ? Nbd.CMD_FLAG_DF : 0;
            case Nbd.CMD_WRITE -> allowed |= session.extendedHeaders() ? Nbd.CMD_FLAG_PAYLOAD_LEN : 0;
            case Nbd.CMD_WRITE_ZEROES -> allowed |= Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FAST_ZERO;
            case Nbd.CMD_BLOCK_STATUS -> allowed |= Nbd.CMD_FLAG_REQ_ONE;
            default -> { }
        }
        return allowed;
    }
}

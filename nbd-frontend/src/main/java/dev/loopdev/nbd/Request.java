package dev.loopdev.nbd;

import dev.loopdev.BlockDevice;
import dev.loopdev.Errno;
import java.nio.ByteBuffer;

/**
 * One transmission request as read off the wire, with its payload buffer (a WRITE's data, or room for a READ's)
 * while it is in flight.
 */
final class Request {
    final int flags;
    final int type;
    final long cookie;
    final long offset;   // unsigned on the wire; validated before use
    final long length;   // unsigned 32-bit on the wire
    ByteBuffer buffer;   // pooled; READ and WRITE only

    Request(int flags, int type, long cookie, long offset, long length) {
        this.flags = flags;
        this.type = type;
        this.cookie = cookie;
        this.offset = offset;
        this.length = length;
    }

    /** Parses a 28-byte request header; the magic has been checked. */
    static Request parse(ByteBuffer h) {
        int flags = Short.toUnsignedInt(h.getShort());
        int type = Short.toUnsignedInt(h.getShort());
        long cookie = h.getLong();
        long offset = h.getLong();
        long length = Integer.toUnsignedLong(h.getInt());
        return new Request(flags, type, cookie, offset, length);
    }

    boolean fua() {
        return (flags & Nbd.CMD_FLAG_FUA) != 0;
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
    Rejection check(Export export) {
        BlockDevice device = export.device();
        switch (type) {
            case Nbd.CMD_READ, Nbd.CMD_WRITE, Nbd.CMD_FLUSH, Nbd.CMD_TRIM, Nbd.CMD_WRITE_ZEROES -> { }
            default -> {
                return new Rejection(Errno.EINVAL, "unknown command " + type);
            }
        }
        int allowed = Nbd.CMD_FLAG_FUA | (type == Nbd.CMD_WRITE_ZEROES ? Nbd.CMD_FLAG_NO_HOLE : 0);
        if ((flags & ~allowed) != 0) {
            return new Rejection(Errno.EINVAL, "flags 0x" + Integer.toHexString(flags) + " are not valid for "
                    + Nbd.commandName(type));
        }
        boolean writes = type == Nbd.CMD_WRITE || type == Nbd.CMD_TRIM || type == Nbd.CMD_WRITE_ZEROES;
        if (writes && device.isReadOnly()) {
            return new Rejection(Errno.EPERM, Nbd.commandName(type) + " on a read-only export");
        }
        if (type == Nbd.CMD_TRIM && !export.canTrim()) {
            return new Rejection(Errno.EINVAL, "TRIM was not offered for this export");
        }
        if (type == Nbd.CMD_FLUSH) {
            return offset == 0 && length == 0 ? null
                    : new Rejection(Errno.EINVAL, "FLUSH with a non-zero offset or length");
        }
        if (length > export.maximumBlockSize() && (type == Nbd.CMD_READ || type == Nbd.CMD_WRITE)) {
            return new Rejection(Errno.EOVERFLOW, Nbd.commandName(type) + " of " + length
                    + " bytes is larger than the maximum of " + export.maximumBlockSize());
        }
        long size = device.size();
        if (Long.compareUnsigned(offset, size) > 0 || length > size - offset) {
            // The spec: ENOSPC for a write (or write zeroes) beyond the end; EINVAL for anything else.
            Errno e = type == Nbd.CMD_WRITE || type == Nbd.CMD_WRITE_ZEROES ? Errno.ENOSPC : Errno.EINVAL;
            return new Rejection(e, Nbd.commandName(type) + " [" + Long.toUnsignedString(offset) + ", +" + length
                    + ") is beyond the end of the export (" + size + " bytes)");
        }
        return null;
    }
}

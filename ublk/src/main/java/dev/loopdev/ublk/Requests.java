package dev.loopdev.ublk;

import static dev.loopdev.ublk.UblkAbi.IO_F_FUA;
import static dev.loopdev.ublk.UblkAbi.IO_F_NOUNMAP;

import dev.loopdev.BlockDevice;
import dev.loopdev.BlockDeviceException;
import dev.loopdev.Errno;
import java.nio.ByteBuffer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One ublk request onto the {@link BlockDevice}, and its result as the driver wants it committed: the bytes
 * transferred for READ and WRITE, 0 for the others, a negative errno on failure. The one place where device errors
 * become the kernel's numbers, as nbdkit's nbd_errno() is for NBD.
 */
final class Requests {
    private static final Logger LOG = Logger.getLogger(Requests.class.getName());

    private final BlockDevice device;
    private final String name;

    Requests(BlockDevice device, String name) {
        this.device = device;
        this.name = name;
    }

    /** The edge's one range check: the device below assumes requests lie within it. */
    private void checkRange(long offset, long length) throws BlockDeviceException {
        long size = device.size();
        if (offset < 0 || offset > size || length > size - offset) {
            throw new BlockDeviceException(Errno.EINVAL, "request [" + Long.toUnsignedString(offset) + ", +" + length
                    + ") is outside the device of " + size + " bytes");
        }
    }

    /**
     * Serves {@code op_flags}, {@code startSector} and {@code sectors} (512-byte units, whatever the logical block
     * size) of one descriptor; {@code buffer} is the tag's buffer, where WRITE data already is and READ data goes.
     * Never throws: whatever happens is the result.
     */
    int serve(int opFlags, long startSector, int sectors, ByteBuffer buffer) {
        int op = opFlags & 0xff;
        long offset = startSector << 9;
        long length = Integer.toUnsignedLong(sectors) << 9;
        boolean fua = (opFlags & IO_F_FUA) != 0;
        try {
            if (op != UblkAbi.OP_FLUSH) { // a flush's sector and length mean nothing
                checkRange(offset, length);
            }
            switch (op) {
                case UblkAbi.OP_READ -> {
                    device.read(bufferFor(buffer, length), offset);
                    return (int) length;
                }
                case UblkAbi.OP_WRITE -> {
                    device.write(bufferFor(buffer, length), offset, fua);
                    return (int) length;
                }
                case UblkAbi.OP_FLUSH -> device.flush();
                case UblkAbi.OP_DISCARD -> device.trim(offset, length, fua);
                case UblkAbi.OP_WRITE_ZEROES -> device.writeZeroes(offset, length, fua, (opFlags & IO_F_NOUNMAP) == 0);
                default -> throw new BlockDeviceException(Errno.ENOTSUP, "operation " + op + " is not supported");
            }
            return 0;
        } catch (Throwable t) { // InternalError from a mapped page included: the kernel must hear of it
            Errno e = BlockDeviceException.errnoOf(t);
            LOG.log(t instanceof BlockDeviceException ? Level.FINE : Level.WARNING,
                    name + ": " + opName(op) + " of " + length + " bytes at " + offset + " failed: " + e, t);
            return -e.code;
        }
    }

    private static ByteBuffer bufferFor(ByteBuffer buffer, long length) throws BlockDeviceException {
        if (length > buffer.capacity()) {
            throw new BlockDeviceException(Errno.EINVAL, "request of " + length + " bytes exceeds the " + buffer.capacity()
                    + "-byte buffer the device was set up with");
        }
        return buffer.clear().limit((int) length);
    }

    static String opName(int op) {
        return switch (op) {
            case UblkAbi.OP_READ -> "READ";
            case UblkAbi.OP_WRITE -> "WRITE";
            case UblkAbi.OP_FLUSH -> "FLUSH";
            case UblkAbi.OP_DISCARD -> "DISCARD";
            case UblkAbi.OP_WRITE_SAME -> "WRITE_SAME";
            case UblkAbi.OP_WRITE_ZEROES -> "WRITE_ZEROES";
            default -> "operation " + op;
        };
    }
}

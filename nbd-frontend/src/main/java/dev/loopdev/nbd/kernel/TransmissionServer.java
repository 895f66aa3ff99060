package dev.loopdev.nbd.kernel;

import dev.loopdev.BlockDevice;
import dev.loopdev.BlockDeviceException;
import dev.loopdev.Errno;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Serves one connection that is already in the transmission phase: the kernel's NBD client, handed a socket by
 * netlink or NBD_SET_SOCK, sends requests straight away, without a handshake, and expects simple replies. The
 * transmission flags were told to the kernel out of band (NBD_ATTR_SERVER_FLAGS / NBD_SET_FLAGS).
 *
 * <p>Requests are answered in order, one at a time; the kernel's multiple connections give the parallelism. Every
 * request gets exactly one reply, except DISC, which ends the session. A request the header cannot describe (bad
 * magic) ends the session too: the stream can no longer be trusted.
 */
public final class TransmissionServer implements Runnable {
    private static final Logger LOG = Logger.getLogger(TransmissionServer.class.getName());

    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int CMD_READ = 0;
    static final int CMD_WRITE = 1;
    static final int CMD_DISC = 2;
    static final int CMD_FLUSH = 3;
    static final int CMD_TRIM = 4;
    static final int CMD_WRITE_ZEROES = 6;
    static final int CMD_FLAG_FUA = 1;
    static final int CMD_FLAG_NO_HOLE = 2;

    /** The kernel never sends more than max_sectors (a few MiB); this bounds what a broken peer can make us allocate. */
    static final int MAX_PAYLOAD_BYTES = 32 << 20;

    private final BlockDevice device;
    private final SocketChannel channel;
    private final String name;
    private final ByteBuffer header = ByteBuffer.allocateDirect(28);
    private final ByteBuffer reply = ByteBuffer.allocateDirect(16);
    private ByteBuffer data = ByteBuffer.allocateDirect(1 << 20);

    public TransmissionServer(BlockDevice device, SocketChannel channel, String name) {
        this.device = device;
        this.channel = channel;
        this.name = name;
    }

    @Override
    public void run() {
        try (channel) {
            while (serveOne()) {
                // next request
            }
        } catch (EOFException e) {
            LOG.fine(name + ": the client closed the connection");
        } catch (IOException e) {
            LOG.log(Level.WARNING, name + ": connection ended: " + e.getMessage());
        }
    }

    /** Reads one request, executes it, replies. False after DISC. */
    private boolean serveOne() throws IOException {
        header.clear();
        readFully(header);
        header.flip();
        int magic = header.getInt();
        int flags = header.getShort() & 0xffff;
        int type = header.getShort() & 0xffff;
        long cookie = header.getLong();
        long offset = header.getLong();
        long length = header.getInt() & 0xffffffffL;
        if (magic != REQUEST_MAGIC) {
            throw new IOException(String.format("bad request magic 0x%08x", magic));
        }
        if (type == CMD_DISC) {
            LOG.fine(name + ": disconnect requested");
            return false;
        }
        if (type == CMD_WRITE) {
            if (length > MAX_PAYLOAD_BYTES) {
                throw new IOException("write of " + length + " bytes is larger than any client sends");
            }
            readFully(payload((int) length));
        }
        int error = 0;
        try {
            execute(type, flags, offset, length);
        } catch (IOException | RuntimeException e) {
            error = wireError(BlockDeviceException.errnoOf(e));
            LOG.fine(name + ": request " + type + " at " + offset + "+" + length + " failed: " + e);
        }
        sendReply(cookie, error, type == CMD_READ && error == 0);
        return true;
    }

    private void execute(int type, int flags, long offset, long length) throws IOException {
        boolean fua = (flags & CMD_FLAG_FUA) != 0;
        switch (type) {
            case CMD_READ -> {
                if (length > MAX_PAYLOAD_BYTES) {
                    throw new BlockDeviceException(Errno.EINVAL, "read of " + length + " bytes is too large");
                }
                device.checkRange(offset, length);
                ByteBuffer dst = payload((int) length);
                device.read(dst, offset);
                dst.flip();
            }
            case CMD_WRITE -> {
                device.checkRange(offset, length);
                device.checkWritable();
                device.write(data, offset, fua);
            }
            case CMD_FLUSH -> device.flush();
            case CMD_TRIM -> {
                device.checkRange(offset, length);
                device.trim(offset, length, fua);
            }
            case CMD_WRITE_ZEROES -> {
                device.checkRange(offset, length);
                device.writeZeroes(offset, length, fua, (flags & CMD_FLAG_NO_HOLE) == 0);
            }
            default -> throw new BlockDeviceException(Errno.EINVAL, "unknown command " + type);
        }
    }

    private void sendReply(long cookie, int error, boolean withData) throws IOException {
        reply.clear();
        reply.putInt(SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie).flip();
        if (withData) {
            ByteBuffer[] both = {reply, data};
            while (reply.hasRemaining() || data.hasRemaining()) {
                channel.write(both);
            }
        } else {
            while (reply.hasRemaining()) {
                channel.write(reply);
            }
        }
    }

    /** The data buffer, cleared and limited to {@code n} bytes; grown (never shrunk) as requests need. */
    private ByteBuffer payload(int n) {
        if (data.capacity() < n) {
            data = ByteBuffer.allocateDirect(n);
        }
        data.clear().limit(n);
        return data;
    }

    private void readFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (channel.read(b) < 0) {
                throw new EOFException();
            }
        }
        if (b == data) {
            b.flip();
        }
    }

    /** The one place this package maps the core's errors onto NBD's (Linux errno values, EROFS as EPERM). */
    static int wireError(Errno errno) {
        return switch (errno) {
            case EPERM, EROFS -> 1;
            case EIO -> 5;
            case ENOMEM -> 12;
            case EINVAL, ENOTSUP -> 22;
            case ENOSPC -> 28;
            case EOVERFLOW -> 75;
            case ESHUTDOWN -> 108;
        };
    }
}

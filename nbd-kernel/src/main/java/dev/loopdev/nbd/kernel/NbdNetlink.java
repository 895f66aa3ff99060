package dev.loopdev.nbd.kernel;

import dev.loopdev.Errno;
import dev.loopdev.nbd.kernel.GenericNetlink.NetlinkException;
import java.io.Closeable;
import java.util.List;

/**
 * The kernel NBD driver's generic netlink family "nbd" (include/uapi/linux/nbd-netlink.h): connect a device to
 * sockets the caller already holds, and disconnect it. The way nbd-client configures
 * the kernel since Linux 4.12; unlike the ioctls it needs no thread parked in NBD_DO_IT.
 */
final class NbdNetlink implements Closeable {
    static final String FAMILY = "nbd";
    private static final int VERSION = 1;

    private static final int CMD_CONNECT = 1;
    private static final int CMD_DISCONNECT = 2;

    private static final int ATTR_INDEX = 1;
    private static final int ATTR_SIZE_BYTES = 2;
    private static final int ATTR_BLOCK_SIZE_BYTES = 3;
    private static final int ATTR_TIMEOUT = 4;
    private static final int ATTR_SERVER_FLAGS = 5;
    private static final int ATTR_SOCKETS = 7;
    private static final int ATTR_BACKEND_IDENTIFIER = 10;
    private static final int SOCK_ITEM = 1;
    private static final int SOCK_FD = 1;

    private final GenericNetlink netlink;
    private final int family;

    private NbdNetlink(GenericNetlink netlink, int family) {
        this.netlink = netlink;
        this.family = family;
    }

    /** Opens the family; a NetlinkException with ENOENT means the kernel has no NBD driver loaded. */
    static NbdNetlink open() throws NetlinkException {
        GenericNetlink nl = GenericNetlink.open();
        try {
            return new NbdNetlink(nl, nl.resolveFamily(FAMILY));
        } catch (NetlinkException e) {
            nl.close();
            throw e;
        }
    }

    /**
     * Connects device {@code index} (or, when negative, one the kernel picks or creates) to {@code fds}, which
     * must be sockets already in the transmission phase. Returns the device index.
     */
    int connect(int index, KernelNbd.Geometry g, int[] fds, String backend) throws NetlinkException {
        NlAttributes sockets = new NlAttributes();
        for (int fd : fds) {
            sockets.putNested(SOCK_ITEM, new NlAttributes().putU32(SOCK_FD, fd));
        }
        NlAttributes a = new NlAttributes();
        if (index >= 0) {
            a.putU32(ATTR_INDEX, index);
        }
        a.putU64(ATTR_SIZE_BYTES, g.sizeBytes())
                .putU64(ATTR_BLOCK_SIZE_BYTES, g.blockSize())
                .putU64(ATTR_SERVER_FLAGS, g.transmissionFlags())
                .putU64(ATTR_TIMEOUT, g.timeoutSeconds())
                .putString(ATTR_BACKEND_IDENTIFIER, backend)
                .putNested(ATTR_SOCKETS, sockets);
        for (List<NlAttributes.Attr> reply : netlink.request(family, CMD_CONNECT, VERSION, a)) {
            NlAttributes.Attr got = NlAttributes.find(reply, ATTR_INDEX);
            if (got != null) {
                return got.u32();
            }
        }
        if (index >= 0) {
            return index;
        }
        throw new NetlinkException("NBD_CMD_CONNECT: the kernel did not say which device", Errno.EINVAL.code);
    }

    void disconnect(int index) throws NetlinkException {
        netlink.request(family, CMD_DISCONNECT, VERSION, new NlAttributes().putU32(ATTR_INDEX, index));
    }

    @Override
    public void close() {
        netlink.close();
    }
}

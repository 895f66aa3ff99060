package dev.loopdev.nbd.kernel;

import com.sun.jna.LastErrorException;
import dev.loopdev.Errno;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A generic netlink socket: one request at a time, answered by zero or more messages of the family and then the
 * kernel's acknowledgement (NLMSG_ERROR carrying 0 or -errno), which every request asks for with NLM_F_ACK.
 */
final class GenericNetlink implements Closeable {
    private static final int NLMSG_HDR_BYTES = 16;
    private static final int GENL_HDR_BYTES = 4;
    private static final int NLM_F_REQUEST = 0x1;
    private static final int NLM_F_ACK = 0x4;
    private static final int NLMSG_ERROR = 2;
    private static final int NLMSG_DONE = 3;

    private static final int GENL_ID_CTRL = 0x10;
    private static final int CTRL_CMD_GETFAMILY = 3;
    private static final int CTRL_ATTR_FAMILY_ID = 1;
    private static final int CTRL_ATTR_FAMILY_NAME = 2;

    /** Bounds the replies one request may produce: the kernel sends one or two, never thousands. */
    private static final int MAX_REPLIES = 1024;

    private final int fd;
    private int seq;

    private GenericNetlink(int fd) {
        this.fd = fd;
    }

    static GenericNetlink open() throws NetlinkException {
        int fd;
        try {
            fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, Libc.NETLINK_GENERIC);
        } catch (LastErrorException e) {
            throw new NetlinkException("socket(AF_NETLINK)", e.getErrorCode());
        }
        try {
            byte[] sockaddrNl = new byte[12]; // nl_family, pad, nl_pid 0 (kernel assigns), nl_groups 0
            ByteBuffer.wrap(sockaddrNl).order(ByteOrder.nativeOrder()).putShort((short) Libc.AF_NETLINK);
            Libc.bind(fd, sockaddrNl, sockaddrNl.length);
        } catch (LastErrorException e) {
            Libc.closeQuietly(fd);
            throw new NetlinkException("bind(AF_NETLINK)", e.getErrorCode());
        }
        return new GenericNetlink(fd);
    }

    /** The id of the family called {@code name}; ENOENT when the kernel has no such family. */
    int resolveFamily(String name) throws NetlinkException {
        List<List<NlAttributes.Attr>> replies = request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1,
                new NlAttributes().putString(CTRL_ATTR_FAMILY_NAME, name));
        for (List<NlAttributes.Attr> attrs : replies) {
            NlAttributes.Attr id = NlAttributes.find(attrs, CTRL_ATTR_FAMILY_ID);
            if (id != null) {
                return id.u16();
            }
        }
        throw new NetlinkException("resolving generic netlink family " + name, Errno.ENOENT.code);
    }

    /** Sends one command and returns the attributes of each reply message; a negative ack throws. */
    List<List<NlAttributes.Attr>> request(int family, int cmd, int version, NlAttributes attrs)
            throws NetlinkException {
        ByteBuffer payload = attrs.bytes();
        int len = NLMSG_HDR_BYTES + GENL_HDR_BYTES + payload.remaining();
        ByteBuffer msg = ByteBuffer.allocate(len).order(ByteOrder.nativeOrder());
        int mySeq = ++seq;
        msg.putInt(len).putShort((short) family).putShort((short) (NLM_F_REQUEST | NLM_F_ACK)).putInt(mySeq).putInt(0);
        msg.put((byte) cmd).put((byte) version).putShort((short) 0);
        msg.put(payload);
        try {
            Libc.send(fd, msg.array(), len, 0);
        } catch (LastErrorException e) {
            throw new NetlinkException("send(netlink)", e.getErrorCode());
        }
        return receive(mySeq);
    }

    private List<List<NlAttributes.Attr>> receive(int mySeq) throws NetlinkException {
        List<List<NlAttributes.Attr>> replies = new ArrayList<>();
        byte[] buf = new byte[65536];
        for (int round = 0; round < MAX_REPLIES; round++) {
            int n;
            try {
                n = (int) Libc.recv(fd, buf, buf.length, 0);
            } catch (LastErrorException e) {
                if (e.getErrorCode() == Errno.EINTR.code) {
                    continue;
                }
                throw new NetlinkException("recv(netlink)", e.getErrorCode());
            }
            ByteBuffer b = ByteBuffer.wrap(buf, 0, n).order(ByteOrder.nativeOrder());
            while (b.remaining() >= NLMSG_HDR_BYTES) {
                int start = b.position();
                int msgLen = b.getInt(start);
                int type = b.getShort(start + 4) & 0xffff;
                int seqNo = b.getInt(start + 8);
                if (msgLen < NLMSG_HDR_BYTES || msgLen > b.remaining()) {
                    break;
                }
                b.position(Math.min(b.limit(), start + ((msgLen + 3) & ~3)));
                if (seqNo != mySeq) {
                    continue; // a stale answer to an earlier request
                }
                if (type == NLMSG_ERROR) {
                    int error = b.getInt(start + NLMSG_HDR_BYTES); // 0 or -errno, then the request's header
                    if (error != 0) {
                        throw new NetlinkException(null, -error);
                    }
                    return replies;
                }
                if (type == NLMSG_DONE) {
                    return replies;
                }
                ByteBuffer attrs = ByteBuffer.wrap(buf, start + NLMSG_HDR_BYTES + GENL_HDR_BYTES,
                        msgLen - NLMSG_HDR_BYTES - GENL_HDR_BYTES).slice().order(ByteOrder.nativeOrder());
                ByteBuffer copy = ByteBuffer.allocate(attrs.remaining()).order(ByteOrder.nativeOrder());
                copy.put(attrs).flip();
                replies.add(NlAttributes.parse(copy));
            }
        }
        throw new NetlinkException("netlink: no acknowledgement after " + MAX_REPLIES + " replies", Errno.EINVAL.code);
    }

    @Override
    public void close() {
        Libc.closeQuietly(fd);
    }

    /** A failed netlink call, carrying the kernel's errno. */
    static final class NetlinkException extends IOException {
        final int errno;

        NetlinkException(String what, int errno) {
            super((what == null ? "" : what + ": ") + Errno.message(errno));
            this.errno = errno;
        }
    }
}

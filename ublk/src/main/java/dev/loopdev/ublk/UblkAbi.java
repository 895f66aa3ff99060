package dev.loopdev.ublk;

import dev.loopdev.Errno;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The kernel's ublk interface (include/uapi/linux/ublk_cmd.h): command numbers in both encodings, the structures
 * exchanged with the driver and where they live. Encoding and decoding only; nothing here talks to the kernel.
 */
final class UblkAbi {
    private UblkAbi() {
    }

    // Control commands on /dev/ublk-control (the legacy numbers are the ioctl numbers' _IOC_NR).
    static final int CMD_GET_DEV_INFO = 0x02;
    static final int CMD_ADD_DEV = 0x04;
    static final int CMD_DEL_DEV = 0x05;
    static final int CMD_START_DEV = 0x06;
    static final int CMD_STOP_DEV = 0x07;
    static final int CMD_SET_PARAMS = 0x08;
    static final int CMD_GET_PARAMS = 0x09;
    static final int CMD_GET_FEATURES = 0x13;

    // I/O commands on /dev/ublkcN.
    static final int IO_FETCH_REQ = 0x20;
    static final int IO_COMMIT_AND_FETCH_REQ = 0x21;

    /** A fetch completes with this when the device is going away: the tag will not come back. */
    static final int IO_RES_ABORT = -Errno.ENODEV.code;
    static final int IO_RES_OK = 0;

    // Device flags (ublksrv_ctrl_dev_info.flags), also the feature bits of GET_FEATURES.
    static final long F_SUPPORT_ZERO_COPY = 1L << 0;
    static final long F_URING_CMD_COMP_IN_TASK = 1L << 1;
    static final long F_NEED_GET_DATA = 1L << 2;
    static final long F_USER_RECOVERY = 1L << 3;
    static final long F_UNPRIVILEGED_DEV = 1L << 5;
    static final long F_CMD_IOCTL_ENCODE = 1L << 6;
    static final long F_USER_COPY = 1L << 7;

    // Request operations and flags (ublksrv_io_desc.op_flags: op in bits 0-7, flags above).
    static final int OP_READ = 0;
    static final int OP_WRITE = 1;
    static final int OP_FLUSH = 2;
    static final int OP_DISCARD = 3;
    static final int OP_WRITE_SAME = 4;
    static final int OP_WRITE_ZEROES = 5;
    static final int IO_F_FUA = 1 << 13;
    static final int IO_F_NOUNMAP = 1 << 15;

    static final int S_DEV_DEAD = 0;
    static final int S_DEV_LIVE = 1;
    static final int S_DEV_QUIESCED = 2;

    static final int MAX_QUEUE_DEPTH = 4096;
    static final int MAX_NR_QUEUES = 4096;

    static final int CTRL_CMD_SIZE = 32;   // struct ublksrv_ctrl_cmd
    static final int IO_CMD_SIZE = 16;     // struct ublksrv_io_cmd
    static final int DEV_INFO_SIZE = 64;   // struct ublksrv_ctrl_dev_info
    static final int IO_DESC_SIZE = 24;    // struct ublksrv_io_desc

    static final int ATTR_READ_ONLY = 1;
    static final int ATTR_ROTATIONAL = 1 << 1;
    static final int ATTR_VOLATILE_CACHE = 1 << 2;
    static final int ATTR_FUA = 1 << 3;
    static final int PARAM_TYPE_BASIC = 1;
    static final int PARAM_TYPE_DISCARD = 1 << 1;
    /** struct ublk_params up to and including ublk_param_discard: all that SET_PARAMS is given. */
    static final int PARAMS_SIZE = 8 + 32 + 20;

    /** How command numbers are spelled: the bare numbers of Linux 6.0-6.2, or _IOWR('u', nr, struct) since 6.3. */
    enum Encoding {
        LEGACY, IOCTL;

        /** Whether the kernel speaks the ioctl encoding, from GET_FEATURES (0 when it has no GET_FEATURES). */
        static Encoding of(long features) {
            return (features & F_CMD_IOCTL_ENCODE) != 0 ? IOCTL : LEGACY;
        }

        int control(int nr) {
            if (this == LEGACY) {
                return nr;
            }
            boolean readOnly = nr == CMD_GET_DEV_INFO || nr == CMD_GET_PARAMS || nr == CMD_GET_FEATURES;
            return ioc(readOnly ? IOC_READ : IOC_READ | IOC_WRITE, 'u', nr, CTRL_CMD_SIZE);
        }

        int io(int nr) {
            return this == LEGACY ? nr : ioc(IOC_READ | IOC_WRITE, 'u', nr, IO_CMD_SIZE);
        }
    }

    private static final int IOC_WRITE = 1;
    private static final int IOC_READ = 2;

    /** The kernel's _IOC(dir, type, nr, size) on x86 and arm (asm-generic/ioctl.h). */
    static int ioc(int dir, int type, int nr, int size) {
        return dir << 30 | size << 16 | type << 8 | nr;
    }

    /** Writes struct ublksrv_ctrl_cmd at {@code at}. */
    static void putControlCommand(ByteBuffer b, int at, int devId, int queueId, int len, long addr, long data) {
        b.order(ByteOrder.nativeOrder());
        b.putInt(at, devId);
        b.putShort(at + 4, (short) queueId);
        b.putShort(at + 6, (short) len);
        b.putLong(at + 8, addr);
        b.putLong(at + 16, data);
        b.putShort(at + 24, (short) 0); // dev_path_len: no unprivileged device
        b.putShort(at + 26, (short) 0);
        b.putInt(at + 28, 0);
    }

    /** Writes struct ublksrv_io_cmd at {@code at}. */
    static void putIoCommand(ByteBuffer b, int at, int queue, int tag, int result, long addr) {
        b.putShort(at, (short) queue);
        b.putShort(at + 2, (short) tag);
        b.putInt(at + 4, result);
        b.putLong(at + 8, addr);
    }

    /** struct ublksrv_ctrl_dev_info: what ADD_DEV asks for and the kernel answers, and GET_DEV_INFO reports. */
    record DevInfo(int queues, int depth, int state, int maxIoBytes, int devId, int serverPid, long flags,
            int ownerUid, int ownerGid) {

        void encode(ByteBuffer b) {
            b.order(ByteOrder.nativeOrder());
            for (int i = 0; i < DEV_INFO_SIZE; i += 8) {
                b.putLong(i, 0L);
            }
            b.putShort(0, (short) queues);
            b.putShort(2, (short) depth);
            b.putShort(4, (short) state);
            b.putInt(8, maxIoBytes);
            b.putInt(12, devId);
            b.putInt(16, serverPid);
            b.putLong(24, flags);
        }

        static DevInfo decode(ByteBuffer b) {
            b.order(ByteOrder.nativeOrder());
            return new DevInfo(Short.toUnsignedInt(b.getShort(0)), Short.toUnsignedInt(b.getShort(2)),
                    Short.toUnsignedInt(b.getShort(4)), b.getInt(8), b.getInt(12), b.getInt(16), b.getLong(24),
                    b.getInt(40), b.getInt(44));
        }
    }

    /** The parameters SET_PARAMS gives: struct ublk_params with its basic and discard parts. */
    record Params(long sizeBytes, int logicalBlockSize, int physicalBlockSize, int maxIoBytes, boolean readOnly,
            boolean discard, boolean writeZeroes) {

        void encode(ByteBuffer b) {
            b.order(ByteOrder.nativeOrder());
            for (int i = 0; i < PARAMS_SIZE; i += 4) {
                b.putInt(i, 0);
            }
            b.putInt(0, PARAMS_SIZE);
            b.putInt(4, PARAM_TYPE_BASIC | PARAM_TYPE_DISCARD);
            // basic: the device caches writes until FLUSH, and honours FUA itself
            b.putInt(8, ATTR_VOLATILE_CACHE | ATTR_FUA | (readOnly ? ATTR_READ_ONLY : 0));
            b.put(12, (byte) Integer.numberOfTrailingZeros(logicalBlockSize));
            b.put(13, (byte) Integer.numberOfTrailingZeros(physicalBlockSize));
            b.put(14, (byte) Integer.numberOfTrailingZeros(physicalBlockSize)); // io_opt
            b.put(15, (byte) Integer.numberOfTrailingZeros(physicalBlockSize)); // io_min
            b.putInt(16, maxIoBytes >>> 9);
            b.putLong(24, sizeBytes >>> 9);
            // discard: one segment per request, in whole logical blocks; granularity must not be 0 even when off
            int maxSectors = (int) (0xFFFF_FFFFL >>> 9); // as the loop driver allows: UINT_MAX bytes
            b.putInt(40, 0);
            b.putInt(44, physicalBlockSize);
            b.putInt(48, discard ? maxSectors : 0);
            b.putInt(52, writeZeroes ? maxSectors : 0);
            b.putShort(56, (short) (discard ? 1 : 0));
        }
    }

    /** Where tag {@code tag} of queue {@code q} reads and writes its request's data under UBLK_F_USER_COPY. */
    static long userCopyOffset(int q, int tag) {
        return 0x8000_0000L + ((long) q << 41) + ((long) tag << 25); // UBLKSRV_IO_BUF_OFFSET, QID_OFF, TAG_OFF
    }

    /** Where queue {@code q}'s descriptor array is mapped on /dev/ublkcN: each queue has room for the deepest. */
    static long descriptorOffset(int q, int pageSize) {
        return q * roundUp((long) MAX_QUEUE_DEPTH * IO_DESC_SIZE, pageSize);
    }

    static long descriptorBytes(int depth, int pageSize) {
        return roundUp((long) depth * IO_DESC_SIZE, pageSize);
    }

    static long roundUp(long n, long unit) {
        return (n + unit - 1) / unit * unit;
    }
}

package dev.loopdev.ublk;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.loopdev.Errno;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * /dev/ublk-control: the driver's control commands, each one uring_cmd on a small ring of 128-byte SQEs (the
 * control command does not fit in a 64-byte one), answered synchronously. The command encoding is chosen once,
 * from GET_FEATURES: ioctl numbers where the kernel has UBLK_F_CMD_IOCTL_ENCODE, the legacy numbers otherwise
 * (Linux 6.0-6.4 have no GET_FEATURES).
 */
final class UblkControl implements Closeable {
    static final Path CONTROL = Path.of("/dev/ublk-control");

    private final int fd;
    private final IoUring uring;
    private final long features;
    private final UblkAbi.Encoding encoding;
    private final Memory buffer = new Memory(256);

    private UblkControl(int fd, IoUring uring) throws IOException {
        this.fd = fd;
        this.uring = uring;
        long f = 0;
        buffer.clear(8);
        if (command(UblkAbi.Encoding.IOCTL, UblkAbi.CMD_GET_FEATURES, -1, 8, 0) == 0) {
            f = buffer.getLong(0);
        }
        this.features = f;
        this.encoding = UblkAbi.Encoding.of(f);
    }

    /** Opens the control device, or says in one line why this kernel cannot have ublk devices. */
    static UblkControl open() throws IOException {
        if (Linux.geteuid() != 0) {
            throw new UblkException("ublk devices need root");
        }
        int fd;
        try {
            fd = Linux.open(CONTROL.toString(), Linux.O_RDWR | Linux.O_CLOEXEC);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == Errno.ENOENT.code || e.getErrorCode() == Errno.ENODEV.code) {
                throw new UblkException("this kernel has no ublk: " + CONTROL + " is missing (modprobe ublk_drv; "
                        + "ublk needs Linux 6.0 or newer)");
            }
            throw new UblkException(CONTROL + ": " + Errno.message(e.getErrorCode()));
        }
        try {
            return new UblkControl(fd, IoUring.setup(4, 8, IoUring.SETUP_SQE128));
        } catch (IOException | RuntimeException e) {
            Linux.closeQuietly(fd);
            throw e;
        }
    }

    long features() {
        return features;
    }

    UblkAbi.Encoding encoding() {
        return encoding;
    }

    /** ADD_DEV: a new device (any free id when {@code id < 0}); returns what the driver granted. */
    synchronized UblkAbi.DevInfo add(int id, int queues, int depth, int maxIoBytes, long flags) throws IOException {
        UblkAbi.DevInfo asked = new UblkAbi.DevInfo(queues, depth, 0, maxIoBytes, id, 0, flags, 0, 0);
        asked.encode(bytes(UblkAbi.DEV_INFO_SIZE));
        check("ADD_DEV", command(encoding, UblkAbi.CMD_ADD_DEV, id, UblkAbi.DEV_INFO_SIZE, 0));
        return UblkAbi.DevInfo.decode(bytes(UblkAbi.DEV_INFO_SIZE));
    }

    synchronized void setParams(int id, UblkAbi.Params p) throws IOException {
        p.encode(bytes(UblkAbi.PARAMS_SIZE));
        check("SET_PARAMS", command(encoding, UblkAbi.CMD_SET_PARAMS, id, UblkAbi.PARAMS_SIZE, 0));
    }

    /** START_DEV: returns once every queue has fetched its tags and /dev/ublkbN exists. */
    void start(int id, long serverPid) throws IOException {
        check("START_DEV", commandUnlocked(UblkAbi.CMD_START_DEV, id, serverPid));
    }

    /** STOP_DEV: the block device goes away (after writing back its cache through the server). */
    void stop(int id) throws IOException {
        check("STOP_DEV", commandUnlocked(UblkAbi.CMD_STOP_DEV, id, 0));
    }

    /** DEL_DEV: frees the id; returns once /dev/ublkcN is closed by whoever served it. */
    void delete(int id) throws IOException {
        check("DEL_DEV", commandUnlocked(UblkAbi.CMD_DEL_DEV, id, 0));
    }

    /** GET_DEV_INFO, or null when there is no device {@code id}. */
    synchronized UblkAbi.DevInfo info(int id) throws IOException {
        int res = command(encoding, UblkAbi.CMD_GET_DEV_INFO, id, UblkAbi.DEV_INFO_SIZE, 0);
        if (res == -Errno.ENODEV.code || res == -Errno.ENOENT.code) {
            return null;
        }
        check("GET_DEV_INFO", res);
        return UblkAbi.DevInfo.decode(bytes(UblkAbi.DEV_INFO_SIZE));
    }

    /**
     * START, STOP and DEL wait in the kernel (for the queues, for the cache, for the server), so they run on a
     * ring of their own rather than holding this one: a server stopping its device must still be able to ask.
     */
    private int commandUnlocked(int nr, int id, long data) throws IOException {
        try (IoUring own = IoUring.setup(2, 4, IoUring.SETUP_SQE128)) {
            return command(own, encoding, nr, id, 0, data, Pointer.NULL);
        }
    }

    private int command(UblkAbi.Encoding enc, int nr, int id, int len, long data) throws IOException {
        return command(uring, enc, nr, id, len, data, buffer);
    }

    private int command(IoUring ring, UblkAbi.Encoding enc, int nr, int id, int len, long data, Pointer buf)
            throws IOException {
        Ring r = ring.ring;
        int sqe = r.nextSqe();
        ByteBuffer s = r.sqes();
        s.put(sqe + IoUring.SQE_OPCODE, IoUring.OP_URING_CMD);
        s.putInt(sqe + IoUring.SQE_FD, fd);
        s.putInt(sqe + IoUring.SQE_CMD_OP, enc.control(nr));
        s.putLong(sqe + IoUring.SQE_USER_DATA, nr);
        UblkAbi.putControlCommand(s, sqe + IoUring.SQE_CMD, id, 0xffff, len, Pointer.nativeValue(buf), data);
        r.submit();
        while (r.cqReady() == 0) {
            ring.enter(1);
        }
        int res = r.result(0);
        r.advance(1);
        return res;
    }

    private ByteBuffer bytes(int n) {
        return buffer.getByteBuffer(0, n);
    }

    private static void check(String what, int res) throws IOException {
        if (res < 0) {
            throw new UblkException(what + ": " + Errno.message(-res));
        }
    }

    /** The ids of the devices the driver has: its class in sysfs ("ublk-char"), or the nodes in /dev. */
    static int[] ids() throws IOException {
        java.util.TreeSet<Integer> ids = new java.util.TreeSet<>();
        for (Path dir : new Path[] {Path.of("/sys/class/ublk-char"), Path.of("/dev")}) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (var s = Files.list(dir)) {
                s.map(p -> p.getFileName().toString()).filter(n -> n.matches("ublkc\\d+"))
                        .forEach(n -> ids.add(Integer.parseInt(n.substring(5))));
            }
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public void close() {
        uring.close();
        Linux.closeQuietly(fd);
    }
}

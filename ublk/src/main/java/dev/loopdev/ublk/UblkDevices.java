package dev.loopdev.ublk;

import com.sun.jna.LastErrorException;
import dev.loopdev.Errno;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/** The ublk devices this kernel has, whoever serves them: what {@code list} and {@code detach} need. */
public final class UblkDevices {
    /** A ublk device's name, /dev/ublkbN, ublkbN, /dev/ublkcN (its character device) or ublkN; the group is N. */
    public static final Pattern DEVICE = Pattern.compile("(?:/dev/)?ublk[bc]?(\\d+)");

    private UblkDevices() {
    }

    /** One device as GET_DEV_INFO reports it. */
    public record Info(int id, int state, long serverPid, int queues, int depth, int maxIoBytes, long flags) {
        public String blockDevice() {
            return UblkServer.blockDevice(id);
        }

        public String stateName() {
            return switch (state) {
                case UblkAbi.S_DEV_DEAD -> "dead";
                case UblkAbi.S_DEV_LIVE -> "live";
                case UblkAbi.S_DEV_QUIESCED -> "quiesced";
                default -> "state " + state;
            };
        }

        /** Whether the process that started the device still runs (a dead server leaves its id behind). */
        public boolean serverAlive() {
            return serverPid > 0 && ProcessHandle.of(serverPid).map(ProcessHandle::isAlive).orElse(false);
        }

        static Info of(UblkAbi.DevInfo d) {
            return new Info(d.devId(), d.state(), d.serverPid(), d.queues(), d.depth(), d.maxIoBytes(), d.flags());
        }
    }

    /**
     * Says in one line, before anything is started, why this process cannot serve ublk devices: not root, or a
     * kernel without the driver.
     */
    public static void checkAvailable() throws IOException {
        UblkControl.open().close();
    }

    /** Every device, in id order; none when the kernel has no ublk. */
    public static List<Info> list() throws IOException {
        List<Info> all = new ArrayList<>();
        if (!Files.exists(UblkControl.CONTROL)) {
            return all;
        }
        int[] ids = UblkControl.ids();
        if (ids.length == 0) {
            return all;
        }
        try (UblkControl c = UblkControl.open()) {
            for (int id : ids) {
                UblkAbi.DevInfo d = c.info(id);
                if (d != null) {
                    all.add(Info.of(d));
                }
            }
        }
        return all;
    }

    public static Optional<Info> info(int id) throws IOException {
        try (UblkControl c = UblkControl.open()) {
            return Optional.ofNullable(c.info(id)).map(Info::of);
        }
    }

    /** STOP_DEV: /dev/ublkbN goes away; a live server then deletes the device itself. */
    public static void stop(int id) throws IOException {
        try (UblkControl c = UblkControl.open()) {
            c.stop(id);
        }
    }

    /** DEL_DEV: frees the id of a device whose server is gone (waits while one still holds /dev/ublkcN). */
    public static void delete(int id) throws IOException {
        try (UblkControl c = UblkControl.open()) {
            c.delete(id);
        }
    }

    /**
     * Whether something holds /dev/ublkbN exclusively: a mounted file system, a device mapper, swap. Asked the
     * way the kernel arbitrates it, with an O_EXCL open that fails with EBUSY.
     */
    public static boolean inUse(int id) throws IOException {
        String path = UblkServer.blockDevice(id);
        int fd;
        try {
            fd = Linux.open(path, Linux.O_RDONLY | Linux.O_EXCL | Linux.O_CLOEXEC);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == Errno.EBUSY.code) {
                return true;
            }
            if (e.getErrorCode() == Errno.ENOENT.code || e.getErrorCode() == Errno.ENODEV.code
                    || e.getErrorCode() == Errno.ENXIO.code /* the disk is going away */) {
                return false;
            }
            throw new UblkException(path + ": " + Errno.message(e.getErrorCode()));
        }
        Linux.closeQuietly(fd);
        return false;
    }
}

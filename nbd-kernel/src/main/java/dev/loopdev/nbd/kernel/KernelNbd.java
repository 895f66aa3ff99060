package dev.loopdev.nbd.kernel;

import dev.loopdev.BlockDevice;
import dev.loopdev.Errno;
import dev.loopdev.nbd.Export;
import dev.loopdev.nbd.kernel.GenericNetlink.NetlinkException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The kernel's NBD client, configured the way nbd-client and qemu-nbd -c configure it: generic netlink first
 * (NBD_CMD_CONNECT with the sockets' descriptors), the ioctls when the kernel has no "nbd" netlink family but
 * does have /dev/nbd devices. Every refusal becomes one {@link KernelNbdException} with a message for the user.
 */
public final class KernelNbd {
    private static final Logger LOG = Logger.getLogger(KernelNbd.class.getName());
    /** An NBD device's name, /dev/nbdN or nbdN; the group is N. */
    public static final Pattern DEVICE = Pattern.compile("(?:/dev/)?nbd(\\d+)");

    private KernelNbd() {
    }

    /** What the kernel is told about the device instead of a handshake. */
    public record Geometry(long sizeBytes, int blockSize, int transmissionFlags, long timeoutSeconds) {
        /**
         * The export's size, block size and transmission flags, as a handshake would have told them, without
         * structured replies (the kernel asks for none). CAN_MULTI_CONN is among them, because every connection
         * serves the same device; the kernel refuses several connections without it.
         */
        public static Geometry of(Export export, long timeoutSeconds) {
            BlockDevice device = export.device();
            return new Geometry(device.size(), device.blockSize(), export.transmissionFlags(false), timeoutSeconds);
        }
    }

    /** A connected device; {@code doIt} is the thread parked in NBD_DO_IT (ioctl fallback only). */
    public record Connection(int index, boolean netlink, Thread doIt) {
        public String device() {
            return devicePath(index);
        }
    }

    public static String devicePath(int index) {
        return "/dev/nbd" + index;
    }

    /** Configuring the kernel's NBD devices is root's business; say so before anything else fails obscurely. */
    public static void checkRoot(String what) throws KernelNbdException {
        if (Libc.geteuid() != 0) {
            throw new KernelNbdException(what + " needs root: only root may configure the kernel's NBD devices",
                    Errno.EPERM.code);
        }
    }

    /**
     * Connects {@code index} (any free device when negative) to the kernel ends of {@code fds}; with
     * {@code ioctlOnly}, skips netlink as nbd-client -nonetlink does.
     */
    public static Connection connect(int index, Geometry g, int[] fds, String backend, boolean ioctlOnly)
            throws KernelNbdException {
        checkRoot("attach");
        if (ioctlOnly) {
            return connectIoctl(index, g, fds);
        }
        try (NbdNetlink nl = NbdNetlink.open()) {
            return new Connection(nl.connect(index, g, fds, backend), true, null);
        } catch (NetlinkException e) {
            if (e.errno == Errno.ENOENT.code && Files.exists(Path.of(devicePath(Math.max(index, 0))))) {
                LOG.info("no nbd netlink family; configuring with ioctls");
                return connectIoctl(index, g, fds);
            }
            throw refusal(index, e.errno, e.getMessage());
        }
    }

    private static Connection connectIoctl(int index, Geometry g, int[] fds) throws KernelNbdException {
        if (index >= 0 ? !Files.exists(Path.of(devicePath(index))) : devices().isEmpty()) {
            throw refusal(index, Errno.ENOENT.code, "no such device");
        }
        int chosen = index >= 0 ? index : firstFree();
        try {
            return new Connection(chosen, false, NbdIoctl.connect(chosen, g, fds));
        } catch (KernelNbdException e) {
            throw refusal(chosen, e.errno, e.getMessage());
        } catch (IOException e) {
            throw new KernelNbdException(e.getMessage(), 0);
        }
    }

    /** Asks the kernel to disconnect {@code index}: it sends DISC on every connection, then drops them. */
    public static void disconnect(int index) throws KernelNbdException {
        checkRoot("detach");
        if (!isConnected(index)) {
            throw new KernelNbdException(devicePath(index) + " is not attached", Errno.ENXIO.code);
        }
        try (NbdNetlink nl = NbdNetlink.open()) {
            nl.disconnect(index);
        } catch (NetlinkException e) {
            if (e.errno != Errno.ENOENT.code) {
                throw refusal(index, e.errno, e.getMessage());
            }
            try {
                NbdIoctl.disconnect(index);
            } catch (KernelNbdException ioctlError) {
                throw refusal(index, ioctlError.errno, ioctlError.getMessage());
            } catch (IOException ioctlError) {
                throw new KernelNbdException(ioctlError.getMessage(), 0);
            }
        }
    }

    /** Connected means the kernel has a task (nbd-client, attach) recorded for it, as /sys/block/nbdN/pid shows. */
    public static boolean isConnected(int index) {
        return pidOf(index).isPresent();
    }

    /**
     * The process that connected the device. The kernel records the connecting task's thread id, which for a JVM
     * is not the process id: map it to its thread group through /proc.
     */
    public static OptionalLong pidOf(int index) {
        long tid;
        try {
            tid = Long.parseLong(Files.readString(sysBlock(index).resolve("pid")).trim());
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + tid + "/status"))) {
                if (line.startsWith("Tgid:")) {
                    return OptionalLong.of(Long.parseLong(line.substring(5).trim()));
                }
            }
        } catch (IOException | NumberFormatException e) {
            // the task is gone (or in another pid namespace): the thread id is all we know
        }
        return OptionalLong.of(tid);
    }

    /** The NBD devices the kernel has, by index, ascending. */
    public static List<Integer> devices() {
        List<Integer> out = new ArrayList<>();
        try (var s = Files.list(Path.of("/sys/block"))) {
            s.map(p -> DEVICE.matcher(p.getFileName().toString())).filter(Matcher::matches)
                    .map(m -> Integer.parseInt(m.group(1))).sorted().forEach(out::add);
        } catch (IOException e) {
            // no sysfs: no devices to report
        }
        return out;
    }

    static Path sysBlock(int index) {
        return Path.of("/sys/block/nbd" + index);
    }

    private static int firstFree() throws KernelNbdException {
        for (int i : devices()) {
            if (!isConnected(i)) {
                return i;
            }
        }
        throw new KernelNbdException("every /dev/nbd device is in use (modprobe nbd nbds_max=N for more)",
                Errno.EBUSY.code);
    }

    private static KernelNbdException refusal(int index, int errno, String detail) {
        String dev = index >= 0 ? devicePath(index) : "the kernel's NBD client";
        Errno e = Errno.of(errno);
        if (e == Errno.ENOENT || e == Errno.ENODEV || e == Errno.ENXIO) {
            return new KernelNbdException(
                    "this kernel has no NBD support (no /dev/nbd0, no \"nbd\" netlink family): modprobe nbd", errno);
        }
        if (e == Errno.EBUSY) {
            return new KernelNbdException(dev + " is already in use (see loopdev list; nbd-client -c "
                    + (index >= 0 ? dev : "/dev/nbdN") + ")", errno);
        }
        if (e == Errno.EPERM || e == Errno.EACCES) {
            return new KernelNbdException(
                    dev + ": permission denied: only root may configure the kernel's NBD devices", errno);
        }
        return new KernelNbdException(dev + ": " + detail, errno);
    }
}

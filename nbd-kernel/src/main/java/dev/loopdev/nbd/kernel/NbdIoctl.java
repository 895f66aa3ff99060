package dev.loopdev.nbd.kernel;

import com.sun.jna.LastErrorException;
import dev.loopdev.Errno;
import java.io.IOException;

/**
 * The NBD ioctls (include/uapi/linux/nbd.h), the way to configure a kernel without the netlink family (before
 * 4.12, or built without it): configure the device, hand it the sockets, then park one thread in NBD_DO_IT for
 * as long as the device is connected, as qemu-nbd's nbd_init / nbd_client do.
 */
final class NbdIoctl {
    private static final int NBD_SET_SOCK = 0xab00;
    private static final int NBD_SET_BLKSIZE = 0xab01;
    private static final int NBD_DO_IT = 0xab03;
    private static final int NBD_CLEAR_SOCK = 0xab04;
    private static final int NBD_CLEAR_QUE = 0xab05;
    private static final int NBD_SET_SIZE_BLOCKS = 0xab07;
    private static final int NBD_DISCONNECT = 0xab08;
    private static final int NBD_SET_TIMEOUT = 0xab09;
    private static final int NBD_SET_FLAGS = 0xab0a;

    private NbdIoctl() {
    }

    /**
     * Configures /dev/nbd{@code index} and starts the thread that keeps it connected; the thread closes the
     * device when the kernel lets go of it (disconnect, or every socket gone).
     */
    static Thread connect(int index, KernelNbd.Geometry g, int[] fds) throws IOException {
        String dev = KernelNbd.devicePath(index);
        int fd = open(dev);
        try {
            ioctl(fd, NBD_SET_BLKSIZE, g.blockSize(), dev);
            ioctl(fd, NBD_SET_SIZE_BLOCKS, g.sizeBytes() / g.blockSize(), dev);
            if (g.timeoutSeconds() > 0) {
                ioctl(fd, NBD_SET_TIMEOUT, g.timeoutSeconds(), dev);
            }
            ioctl(fd, NBD_CLEAR_SOCK, 0, dev);
            ioctl(fd, NBD_SET_FLAGS, g.transmissionFlags(), dev);
            for (int s : fds) {
                ioctl(fd, NBD_SET_SOCK, s, dev);
            }
        } catch (IOException e) {
            Libc.closeQuietly(fd);
            throw e;
        }
        Thread t = new Thread(() -> doIt(fd, dev), "nbd" + index + "-do-it");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Blocks in the kernel for the life of the connection, then leaves the device clean for the next user. */
    private static void doIt(int fd, String dev) {
        try {
            Libc.ioctl(fd, NBD_DO_IT, 0);
        } catch (LastErrorException e) {
            // EIO or similar when the sockets die, 0 on an orderly disconnect: either way the device is done
            java.util.logging.Logger.getLogger(NbdIoctl.class.getName())
                    .fine(dev + ": NBD_DO_IT returned " + Errno.message(e.getErrorCode()));
        } finally {
            try {
                Libc.ioctl(fd, NBD_CLEAR_QUE, 0);
                Libc.ioctl(fd, NBD_CLEAR_SOCK, 0);
            } catch (LastErrorException ignored) {
                // newer kernels clear on their own and may refuse
            }
            Libc.closeQuietly(fd);
        }
    }

    /** As nbd-client -d: ask the kernel to send DISC and drop the sockets. */
    static void disconnect(int index) throws IOException {
        String dev = KernelNbd.devicePath(index);
        int fd = open(dev);
        try {
            ioctl(fd, NBD_DISCONNECT, 0, dev);
            try {
                Libc.ioctl(fd, NBD_CLEAR_SOCK, 0);
            } catch (LastErrorException ignored) {
                // the NBD_DO_IT thread clears it as well
            }
        } finally {
            Libc.closeQuietly(fd);
        }
    }

    private static int open(String dev) throws IOException {
        try {
            return Libc.open(dev, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        } catch (LastErrorException e) {
            throw new KernelNbdException(dev + ": " + Errno.message(e.getErrorCode()), e.getErrorCode());
        }
    }

    private static void ioctl(int fd, int request, long arg, String dev) throws IOException {
        try {
            Libc.ioctl(fd, request, arg);
        } catch (LastErrorException e) {
            throw new KernelNbdException(String.format("%s: ioctl 0x%04x: %s", dev, request,
                    Errno.message(e.getErrorCode())), e.getErrorCode());
        }
    }
}

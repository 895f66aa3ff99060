package dev.loopdev.ublk;

import dev.loopdev.BlockDevice;
import dev.loopdev.Errno;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A {@link BlockDevice} as /dev/ublkbN: ADD_DEV, SET_PARAMS from the device's geometry, one {@link UblkQueue}
 * thread per queue, START_DEV. The device lives until STOP_DEV, sent by {@link #close} or by anyone else (another
 * process's detach): the queues then see every tag aborted and end, this server lets go of /dev/ublkcN, flushes
 * the device and deletes the ublk device. If this process dies instead, the kernel cancels its commands and removes
 * /dev/ublkbN by itself; only the id stays taken until someone deletes it ({@link UblkDevices#delete}).
 */
public final class UblkServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(UblkServer.class.getName());
    private static final long CHAR_DEVICE_WAIT_MILLIS = 5_000;

    /**
     * How the device is served: queues (threads), tags per queue, the largest request in bytes, and whether the
     * server copies request data itself (UBLK_F_USER_COPY, Linux 6.5) rather than the driver into per-tag buffers.
     */
    public record Options(int queues, int depth, int maxIoBytes, boolean userCopy) {
        public static final Options DEFAULT = new Options(1, 128, 1 << 20, false);

        public Options(int queues, int depth, int maxIoBytes) {
            this(queues, depth, maxIoBytes, false);
        }

        public Options {
            if (queues < 1 || queues > UblkAbi.MAX_NR_QUEUES) {
                throw new IllegalArgumentException("queues must be between 1 and " + UblkAbi.MAX_NR_QUEUES);
            }
            if (depth < 1 || depth > UblkAbi.MAX_QUEUE_DEPTH) {
                throw new IllegalArgumentException("depth must be between 1 and " + UblkAbi.MAX_QUEUE_DEPTH);
            }
            if (maxIoBytes < 4096 || Integer.bitCount(maxIoBytes) != 1) {
                throw new IllegalArgumentException("the largest request must be a power of two of at least 4096 bytes");
            }
        }
    }

    private final UblkControl control;
    private final int id;
    private final UblkAbi.DevInfo info;
    private final BlockDevice device;
    private final int charFd;
    private final List<Thread> threads = new ArrayList<>();
    private final CountDownLatch ended;
    private volatile boolean closed;

    private UblkServer(UblkControl control, UblkAbi.DevInfo info, BlockDevice device, int charFd) {
        this.control = control;
        this.id = info.devId();
        this.info = info;
        this.device = device;
        this.charFd = charFd;
        this.ended = new CountDownLatch(info.queues());
    }

    /**
     * Serves {@code device} as a new /dev/ublkbN (any free N when {@code id < 0}); returns once the block device
     * exists. {@code name} labels log lines.
     */
    public static UblkServer start(BlockDevice device, int id, Options options, String name) throws IOException {
        UblkControl control = UblkControl.open();
        UblkAbi.DevInfo info;
        try {
            long flags = control.encoding() == UblkAbi.Encoding.IOCTL ? UblkAbi.F_CMD_IOCTL_ENCODE : 0;
            if (options.userCopy()) {
                if ((control.features() & UblkAbi.F_USER_COPY) == 0) {
                    throw new UblkException("this kernel's ublk has no user copy (UBLK_F_USER_COPY, Linux 6.5)");
                }
                flags |= UblkAbi.F_USER_COPY;
            }
            info = control.add(id, options.queues(), options.depth(), options.maxIoBytes(), flags);
        } catch (IOException | RuntimeException e) {
            control.close();
            throw e;
        }
        UblkServer server = null;
        try {
            int fd = openCharDevice(info.devId());
            server = new UblkServer(control, info, device, fd);
            control.setParams(info.devId(), new UblkAbi.Params(device.size(), device.blockSize(),
                    Math.max(4096, device.blockSize()), info.maxIoBytes(), device.isReadOnly(),
                    device.canTrim() && !device.isReadOnly(), !device.isReadOnly()));
            server.startQueues(name);
            control.start(info.devId(), ProcessHandle.current().pid());
            LOG.fine(() -> name + ": " + blockDevice(info.devId()) + " with " + info.queues() + " queue(s) of "
                    + info.depth() + ", requests up to " + info.maxIoBytes() + " bytes, "
                    + control.encoding().name().toLowerCase() + " command numbers"
                    + ((info.flags() & UblkAbi.F_USER_COPY) != 0 ? ", user copy" : ""));
            return server;
        } catch (IOException | RuntimeException e) {
            if (server != null) {
                server.abandon();
            } else {
                deleteQuietly(control, info.devId());
                control.close();
            }
            throw e;
        }
    }

    private static int openCharDevice(int id) throws IOException {
        String path = "/dev/ublkc" + id;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CHAR_DEVICE_WAIT_MILLIS);
        while (true) {
            try {
                return Linux.open(path, Linux.O_RDWR | Linux.O_CLOEXEC);
            } catch (com.sun.jna.LastErrorException e) {
                // without devtmpfs, udev makes the node a moment after ADD_DEV
                if (e.getErrorCode() != Errno.ENOENT.code || System.nanoTime() > deadline) {
                    throw new UblkException(path + ": " + Errno.message(e.getErrorCode()));
                }
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new UblkException(path + ": interrupted while waiting for the node");
            }
        }
    }

    /** Starts one thread per queue and returns once each has fetched its tags (or throws the first failure). */
    private void startQueues(String name) throws IOException {
        Requests requests = new Requests(device, name);
        CountDownLatch ready = new CountDownLatch(info.queues());
        IOException[] failure = new IOException[1];
        for (int q = 0; q < info.queues(); q++) {
            UblkQueue queue = new UblkQueue(q, info.depth(), info.maxIoBytes(), charFd, control.encoding(), requests,
                    (info.flags() & UblkAbi.F_USER_COPY) != 0);
            int qid = q;
            Thread t = new Thread(() -> {
                try {
                    try {
                        queue.fetchAll();
                    } catch (IOException | RuntimeException e) {
                        synchronized (failure) {
                            failure[0] = e instanceof IOException io ? io : new IOException(e);
                        }
                        return;
                    } finally {
                        ready.countDown();
                    }
                    queue.serve();
                } catch (Throwable e) {
                    LOG.log(Level.SEVERE, name + ": queue " + qid + " failed; stopping the device", e);
                    stopQuietly();
                } finally {
                    ended.countDown();
                }
            }, "ublk" + id + "-q" + q);
            threads.add(t);
            t.start();
        }
        try {
            ready.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UblkException("interrupted while the queues were being set up");
        }
        synchronized (failure) {
            if (failure[0] != null) {
                throw failure[0];
            }
        }
    }

    public int id() {
        return id;
    }

    public String blockDevice() {
        return blockDevice(id);
    }

    public static String blockDevice(int id) {
        return "/dev/ublkb" + id;
    }

    /** Waits until the device is stopped, by {@link #close} or by anyone else. */
    public void awaitEnd() throws InterruptedException {
        ended.await();
    }

    private void stopQuietly() {
        try {
            control.stop(id);
        } catch (IOException e) {
            LOG.warning(blockDevice() + ": STOP_DEV: " + e.getMessage());
        }
    }

    /** A device that never started: deleting it aborts the queues that did fetch. */
    private synchronized void abandon() {
        closed = true;
        stopQuietly();
        joinQueues();
        Linux.closeQuietly(charFd);
        deleteQuietly(control, id);
        control.close();
    }

    /**
     * Stops the device (the kernel writes its cache back through the queues first), waits for the queues, flushes
     * the backing device and deletes the ublk device. The {@link BlockDevice} stays open: it is the caller's.
     */
    @Override
    public synchronized void close() throws IOException { // a second caller returns once the first is done
        if (closed) {
            return;
        }
        closed = true;
        if (ended.getCount() > 0) {
            stopQuietly();
        }
        joinQueues();
        Linux.closeQuietly(charFd);
        try {
            device.flush();
        } finally {
            deleteQuietly(control, id);
            control.close();
        }
    }

    private void joinQueues() {
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void deleteQuietly(UblkControl control, int id) {
        try {
            control.delete(id);
        } catch (IOException e) {
            LOG.warning(blockDevice(id) + ": DEL_DEV: " + e.getMessage());
        }
    }
}

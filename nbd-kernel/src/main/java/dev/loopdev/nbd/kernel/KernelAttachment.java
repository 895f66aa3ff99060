package dev.loopdev.nbd.kernel;

import dev.loopdev.BlockDevice;
import dev.loopdev.nbd.Export;
import dev.loopdev.nbd.NbdServer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A {@link BlockDevice} attached as /dev/nbdN: the NBD server's transmission phase on each of the kernel's socket
 * pairs, and the kernel told about them. Lives until the kernel lets go of every connection (detach sends DISC on
 * each); then the device is flushed and closed and {@code released} runs. JVM shutdown (SIGTERM) disconnects the
 * kernel first, so the device never hangs on a server that is gone.
 */
public final class KernelAttachment {
    private static final Logger LOG = Logger.getLogger(KernelAttachment.class.getName());
    private static final long SHUTDOWN_WAIT_MILLIS = 20_000;

    private final BlockDevice device;
    private final String backend;
    private final List<KernelSockets.Pair> pairs;
    private final Export export;
    private final NbdServer server;
    private final Runnable released;
    private final List<Thread> servers = new ArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile KernelNbd.Connection connection;
    private Thread hook;

    private KernelAttachment(BlockDevice device, String backend, List<KernelSockets.Pair> pairs,
                             NbdServer.Tuning tuning, Runnable released) {
        this.device = device;
        this.backend = backend;
        this.pairs = pairs;
        this.export = new Export("", device);
        this.server = new NbdServer(export, tuning);
        this.released = released;
    }

    /**
     * Makes the connections and starts serving them (the kernel may send requests the moment it connects). The
     * attachment owns {@code device} from now on.
     *
     * @param backend  what the kernel shows as the device's backend (its netlink backend identifier), and the name
     *                 in log lines
     * @param released runs once the device was flushed and closed, whether the kernel let go or the JVM exits
     */
    public static KernelAttachment start(BlockDevice device, String backend, int connections, NbdServer.Tuning tuning,
                                         Runnable released) throws IOException {
        KernelAttachment a = new KernelAttachment(device, backend, KernelSockets.open(connections), tuning, released);
        for (int i = 0; i < connections; i++) {
            a.servers.add(a.server.serveNegotiated(a.pairs.get(i).server(), a.export, "connection " + i));
        }
        return a;
    }

    /** Hands the sockets to the kernel as device {@code index} (a free one when negative). */
    public KernelNbd.Connection connect(int index, long timeoutSeconds, boolean ioctlOnly) throws IOException {
        int[] fds = pairs.stream().mapToInt(KernelSockets.Pair::kernelFd).toArray();
        KernelNbd.Connection c = KernelNbd.connect(index, KernelNbd.Geometry.of(export, timeoutSeconds), fds,
                backend, ioctlOnly);
        KernelSockets.closeKernelEnds(pairs);
        connection = c;
        hook = new Thread(this::onSignal, "nbd-detach-on-exit");
        Runtime.getRuntime().addShutdownHook(hook);
        return c;
    }

    /** Blocks until every connection has ended, then releases the device. */
    public void awaitEnd() throws InterruptedException {
        for (Thread t : servers) {
            t.join();
        }
        release();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook is running or ran: it released as well
        }
    }

    /** Undoes {@link #start} after a failed {@link #connect}. */
    public void abandon() {
        KernelSockets.closeAll(pairs);
        release();
    }

    private void onSignal() {
        KernelNbd.Connection c = connection;
        if (c != null && KernelNbd.isConnected(c.index())) {
            try {
                KernelNbd.disconnect(c.index());
            } catch (IOException e) {
                LOG.warning(c.device() + ": " + e.getMessage());
            }
        }
        long deadline = System.currentTimeMillis() + SHUTDOWN_WAIT_MILLIS;
        for (Thread t : servers) {
            try {
                t.join(Math.max(1, deadline - System.currentTimeMillis()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        release();
    }

    private void release() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        server.close();
        try (device) {
            if (!device.isReadOnly()) {
                device.flush();
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, backend + ": flushing on detach failed: " + e.getMessage());
        }
        released.run();
    }
}

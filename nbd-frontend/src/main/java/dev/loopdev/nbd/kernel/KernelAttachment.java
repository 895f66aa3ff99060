package dev.loopdev.nbd.kernel;

import dev.loopdev.LoopDevice;
import dev.loopdev.nbd.Export;
import dev.loopdev.nbd.NbdServer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One file attached as /dev/nbdN: the NBD server's transmission phase on each of the kernel's socket pairs, the
 * kernel told about them, and the state record {@code list} reads. Lives until the kernel lets go of every
 * connection (detach sends DISC on each); then the device is flushed and closed and the record removed. SIGTERM
 * disconnects the kernel first, so the device never hangs on a server that is gone.
 */
public final class KernelAttachment {
    private static final Logger LOG = Logger.getLogger(KernelAttachment.class.getName());
    private static final long SHUTDOWN_WAIT_MILLIS = 20_000;

    private final LoopDevice device;
    private final List<KernelSockets.Pair> pairs;
    private final Export export;
    private final NbdServer server;
    private final List<Thread> servers = new ArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile AttachState state;
    private Thread hook;

    private KernelAttachment(LoopDevice device, List<KernelSockets.Pair> pairs) {
        this.device = device;
        this.pairs = pairs;
        this.export = new Export("", device);
        this.server = new NbdServer(export);
    }

    /** Makes the connections and starts serving them (the kernel may send requests the moment it connects). */
    public static KernelAttachment start(LoopDevice device, int connections) throws IOException {
        KernelAttachment a = new KernelAttachment(device, KernelSockets.open(connections));
        for (int i = 0; i < connections; i++) {
            a.servers.add(a.server.serveNegotiated(a.pairs.get(i).server(), a.export,
                    "connection " + i));
        }
        return a;
    }

    /** Hands the sockets to the kernel as device {@code index} (a free one when negative), records the state. */
    public AttachState connect(int index, long timeoutSeconds, boolean ioctlOnly) throws IOException {
        int[] fds = pairs.stream().mapToInt(KernelSockets.Pair::kernelFd).toArray();
        KernelNbd.Connection c = KernelNbd.connect(index, KernelNbd.Geometry.of(device, timeoutSeconds), fds,
                "loopdev:" + device.file(), ioctlOnly);
        KernelSockets.closeKernelEnds(pairs);
        var cfg = device.config();
        state = new AttachState(c.index(), ProcessHandle.current().pid(), device.file().toAbsolutePath().toString(),
                device.size(), device.blockSize(), pairs.size(), device.isReadOnly(), cfg.offsetBytes(),
                cfg.sizeLimitBytes(), device.writePath().name().toLowerCase(java.util.Locale.ROOT),
                cfg.transform().name(), c.netlink());
        hook = new Thread(this::onSignal, "nbd-detach-on-exit");
        Runtime.getRuntime().addShutdownHook(hook);
        state.write();
        return state;
    }

    /** Blocks until every connection has ended, then releases the file. */
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
        AttachState s = state;
        if (s != null && KernelNbd.isConnected(s.index())) {
            try {
                KernelNbd.disconnect(s.index());
            } catch (IOException e) {
                LOG.warning(s.device() + ": " + e.getMessage());
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
            LOG.log(Level.WARNING, device.file() + ": flushing on detach failed: " + e.getMessage());
        }
        if (state != null) {
            state.delete();
        }
    }
}

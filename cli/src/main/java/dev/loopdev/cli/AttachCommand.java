package dev.loopdev.cli;

import dev.loopdev.LoopDevice;
import dev.loopdev.nbd.kernel.KernelAttachment;
import dev.loopdev.nbd.kernel.KernelNbd;
import dev.loopdev.transforms.KeySource;
import dev.loopdev.ublk.UblkDevices;
import dev.loopdev.ublk.UblkServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code loopdev attach IMAGE}: the file as /dev/nbdN, served in-process to the kernel's own NBD client, as
 * {@code qemu-nbd -c} does, or with {@code --ublk} as /dev/ublkbN through the kernel's ublk driver
 * ({@link UblkAttach}). The command returns once the device is ready; a background copy of itself serves it
 * until {@code loopdev detach}.
 */
@Command(name = "attach", mixinStandardHelpOptions = true,
        description = "Attach a file as /dev/nbdN through the kernel's NBD client, or as /dev/ublkbN with --ublk "
                + "(root only).")
final class AttachCommand implements Callable<Integer> {
    /** Starting a JVM under emulation is slow; a real failure shows long before this. */
    private static final long READY_TIMEOUT_MILLIS = 180_000;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "The backing file.")
    Path image;

    @Option(names = "--device", paramLabel = "/dev/nbdN",
            description = "The device to use (default: a free one); /dev/ublkbN with --ublk.")
    String device;

    @Option(names = "--ublk", description = "Serve the file as /dev/ublkbN through the kernel's ublk driver "
            + "(io_uring; Linux 6.0 or newer, modprobe ublk_drv) instead of NBD.")
    boolean ublk;

    @Option(names = "--queues", paramLabel = "N", defaultValue = "1",
            description = "With --ublk: hardware queues, each served by a thread of its own.")
    int queues;

    @Option(names = "--depth", paramLabel = "N", defaultValue = "128",
            description = "With --ublk: requests in flight per queue (1-4096).")
    int depth;

    @Option(names = "--user-copy", hidden = true, description = "With --ublk: copy request data through /dev/ublkcN "
            + "(UBLK_F_USER_COPY, Linux 6.5) instead of per-tag buffers the driver fills; for comparison.")
    boolean userCopy;

    @Option(names = "--connections", paramLabel = "N", defaultValue = "1",
            description = "Sockets between the kernel and the server (the kernel's multi-connection queues).")
    int connections;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "0",
            description = "Request timeout; 0 means wait forever (the kernel only warns about stuck requests).")
    long timeoutSeconds;

    @Option(names = "--no-netlink",
            description = "Configure the device with ioctls only, as nbd-client -nonetlink (for old kernels).")
    boolean noNetlink;

    @Option(names = "--foreground", description = "Serve in this process until detached, instead of in the background.")
    boolean foreground;

    @Mixin
    DeviceOptions options;

    @Mixin
    LogOptions log;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (ublk) {
            if (connections != 1 || noNetlink || timeoutSeconds != 0) {
                throw new IllegalArgumentException("--connections, --timeout and --no-netlink are for NBD; "
                        + "--ublk takes --queues and --depth");
            }
            int id = device == null ? -1 : DeviceArgument.ublkId(device);
            UblkServer.Options o = ublkOptions();
            UblkDevices.checkAvailable();
            return foreground ? serveUblk(id, o) : startInBackground();
        }
        if (connections < 1 || connections > 64) {
            throw new IllegalArgumentException("--connections must be between 1 and 64");
        }
        int index = device == null ? -1 : DeviceArgument.nbdIndex(device);
        KernelNbd.checkRoot("attach");
        return foreground ? serve(index) : startInBackground();
    }

    /** Runs this command again with --foreground in a new process, and returns when that one says it is ready. */
    private int startInBackground() throws Exception {
        List<String> cmd = new ArrayList<>(Relaunch.javaCommand());
        cmd.add("attach");
        cmd.addAll(Relaunch.ownArgs(spec));
        cmd.add("--foreground");
        cmd.add("--notify-ready");
        // A passphrase on standard input is for the server: it inherits ours (and a terminal prompt reaches the
        // same /dev/tty, the server leaving the session only once the device is open).
        KeySource key = options.transform.key.source();
        Process p = new ProcessBuilder(cmd).redirectInput(key.isStdin() ? ProcessBuilder.Redirect.INHERIT
                        : ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String ready = Relaunch.firstLine(p, READY_TIMEOUT_MILLIS);
        if (ready == null) {
            if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroy();
                spec.commandLine().getErr().println("loopdev: attach: the device was not ready in time");
                return 1;
            }
            return p.exitValue() == 0 ? 1 : p.exitValue(); // it has said why on our stderr
        }
        spec.commandLine().getOut().println(ready);
        return 0;
    }

    @Option(names = "--notify-ready", hidden = true)
    boolean notifyReady;

    private UblkServer.Options ublkOptions() {
        try {
            return new UblkServer.Options(queues, depth, UblkServer.Options.DEFAULT.maxIoBytes(), userCopy);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--queues or --depth: " + e.getMessage());
        }
    }

    /** Serves /dev/ublkbN until it is stopped (detach, a signal). */
    private int serveUblk(int id, UblkServer.Options o) throws Exception {
        LoopDevice dev = options.open(image); // first: it may ask for a passphrase on the terminal
        if (notifyReady) {
            Daemon.newSession();
        }
        return UblkAttach.serve(dev, id, o, notifyReady);
    }

    /** Serves until the kernel disconnects (detach, or every connection gone). */
    private int serve(int index) throws Exception {
        LoopDevice dev = options.open(image); // first: it may ask for a passphrase on the terminal
        if (notifyReady) {
            Daemon.newSession();
        }
        AtomicReference<AttachState> record = new AtomicReference<>();
        KernelAttachment a;
        try {
            a = KernelAttachment.start(dev, "loopdev:" + dev.file(), connections, Cli.tuning(), () -> {
                AttachState s = record.get();
                if (s != null) {
                    s.delete();
                }
            });
        } catch (Exception e) {
            dev.close();
            throw e;
        }
        AttachState state;
        try {
            KernelNbd.Connection c = a.connect(index, timeoutSeconds, noNetlink);
            state = AttachState.of(c, dev, connections);
            record.set(state);
            state.write();
        } catch (Exception e) {
            a.abandon();
            throw e;
        }
        System.out.println(state.device());
        System.out.flush();
        if (notifyReady) {
            Daemon.redirectOutput(AttachState.DIR.resolve("nbd" + state.index() + ".log"));
        }
        a.awaitEnd();
        return 0;
    }
}

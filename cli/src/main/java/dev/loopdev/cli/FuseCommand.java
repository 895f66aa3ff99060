package dev.loopdev.cli;

import dev.loopdev.LoopDevice;
import dev.loopdev.fuse.FuseMount;
import dev.loopdev.fuse.FuseOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code loopdev fuse IMAGE MOUNTPOINT}: the device as one file in a FUSE mount, {@code MOUNTPOINT/disk}, which
 * losetup, qemu, dd or any program can open. Runs until unmounted ({@code fusermount -u MOUNTPOINT}) or until
 * SIGINT, SIGTERM or SIGHUP, which unmount; then flushes and closes the device and exits 0.
 */
@Command(name = "fuse", mixinStandardHelpOptions = true,
        description = "Expose a file as a block device file in a FUSE mount (MOUNTPOINT/disk).")
final class FuseCommand implements Callable<Integer> {
    private static final Logger LOG = Logger.getLogger(FuseCommand.class.getName());

    @Parameters(index = "0", paramLabel = "IMAGE", description = "The backing file.")
    Path image;

    @Parameters(index = "1", paramLabel = "MOUNTPOINT", description = "An empty directory to mount on.")
    Path mountpoint;

    @Option(names = "--name", paramLabel = "FILE", defaultValue = FuseOptions.DEFAULT_FILE_NAME,
            description = "Name of the device file in the mount (default: ${DEFAULT-VALUE}).")
    String name;

    @Option(names = "--page-cache", description = "Let the kernel cache the file's pages (allows shared mmap of "
            + "the file); by default every read and write goes straight to the device (direct_io).")
    boolean pageCache;

    @Option(names = "--single-threaded", description = "Serve requests on one libfuse thread (-s); by default "
            + "several serve them, as the kernel loop driver and VMs send several at a time.")
    boolean singleThreaded;

    @Option(names = "--fuse-debug", description = "Have libfuse log every request.")
    boolean fuseDebug;

    @Mixin
    DeviceOptions device;

    @Mixin
    Readiness ready = new Readiness();

    @Mixin
    LogOptions log;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        return ready.run(spec, device, this::mountAndServe);
    }

    private int mountAndServe() throws Exception {
        FuseOptions options = FuseOptions.defaults().withFileName(name).withDirectIo(!pageCache)
                .withSingleThreaded(singleThreaded).withDebug(fuseDebug);
        FuseMount.checkMountPoint(mountpoint);
        Shutdown shutdown = Shutdown.onSignals();
        try (LoopDevice dev = device.open(image)) {
            FuseMount mount = FuseMount.mount(dev, mountpoint, options);
            // The device is closed (flushed) only after the unmount is complete: until then the kernel may still
            // send requests. A signal unmounts; so does fusermount -u from outside; either way the loop ends.
            Thread onSignal = new Thread(() -> unmountOn(shutdown, mount, ready), "loopdev-fuse-signals");
            onSignal.setDaemon(true);
            onSignal.start();
            ready.ready("loopdev: " + image + " attached as " + mount.file() + " (" + DeviceOptions.describe(dev)
                    + "); stop with " + (ready.forked ? "" : "Ctrl-C or ") + "fusermount -u " + mountpoint);
            int status = mount.awaitUnmount();
            ready.stopping();
            mount.close();
            return status == 0 ? 0 : 1;
        }
    }

    private static void unmountOn(Shutdown shutdown, FuseMount mount, Readiness ready) {
        try {
            String why = shutdown.await();
            ready.stopping();
            LOG.info(why + ": unmounting " + mount.mountPoint());
            mount.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException | RuntimeException e) {
            LOG.warning("unmounting " + mount.mountPoint() + ": " + Cli.describe(e));
        }
    }
}

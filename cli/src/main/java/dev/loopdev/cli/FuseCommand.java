package dev.loopdev.cli;

import dev.loopdev.LoopDevice;
import dev.loopdev.fuse.FuseMount;
import dev.loopdev.fuse.FuseOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code loopdev fuse IMAGE MOUNTPOINT}: the device as one file in a FUSE mount, {@code MOUNTPOINT/disk}, which
 * losetup, qemu, dd or any program can open. Runs until unmounted ({@code fusermount -u MOUNTPOINT}) or until
 * SIGINT/SIGTERM, which flush the device and unmount.
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

    @Option(names = "--multithreaded", description = "Serve requests on several libfuse threads rather than one.")
    boolean multithreaded;

    @Option(names = "--fuse-debug", description = "Have libfuse log every request.")
    boolean fuseDebug;

    @Mixin
    DeviceOptions device;

    @Override
    public Integer call() throws Exception {
        FuseOptions options = FuseOptions.defaults().withFileName(name).withDirectIo(!pageCache)
                .withSingleThreaded(!multithreaded).withDebug(fuseDebug);
        LoopDevice dev = device.open(image);
        AtomicBoolean detached = new AtomicBoolean();
        FuseMount mount;
        try {
            mount = FuseMount.mount(dev, mountpoint, options);
        } catch (IOException | RuntimeException e) {
            dev.close();
            throw e;
        }
        // SIGINT and SIGTERM run this hook: unmount first (the kernel may still send requests until then), then
        // flush and close the device. A plain unmount from outside ends the loop and takes the same way below.
        Thread hook = new Thread(() -> detach(mount, dev, detached), "loopdev-fuse-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        System.out.println("loopdev: " + image + " attached as " + mount.file() + " (" + dev.size() + " bytes, "
                + dev.writePath().name().toLowerCase() + " write path" + (dev.isReadOnly() ? ", read-only" : "")
                + "); stop with Ctrl-C or fusermount -u " + mountpoint);
        System.out.flush();
        mount.awaitUnmount();
        detach(mount, dev, detached);
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or has run; it did the same
        }
        return 0;
    }

    private static void detach(FuseMount mount, LoopDevice dev, AtomicBoolean detached) {
        if (!detached.compareAndSet(false, true)) {
            return;
        }
        try {
            mount.close();
        } catch (IOException | RuntimeException e) {
            LOG.warning("unmounting " + mount.mountPoint() + ": " + Cli.describe(e));
        }
        try {
            dev.close();
        } catch (IOException | RuntimeException e) {
            LOG.warning("closing " + dev.file() + ": " + Cli.describe(e));
        }
    }
}

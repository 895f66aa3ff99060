package dev.loopdev.fuse;

import dev.loopdev.BlockDevice;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Logger;

/**
 * A block device mounted as one file: {@code MOUNTPOINT/NAME}. libfuse's loop runs on a thread of its own from
 * {@link #mount} until the file system is unmounted, by {@link #close} or from outside ({@code fusermount -u}).
 *
 * <p>The device stays the caller's: close it after this, never before, since the kernel may still send requests
 * until the unmount is complete.
 */
public final class FuseMount implements Closeable {
    private static final Logger LOG = Logger.getLogger(FuseMount.class.getName());
    private static final long MOUNT_TIMEOUT_SECONDS = 30;
    /** How often, and how far apart, an unmount refused as busy is tried again before detaching lazily. */
    private static final int BUSY_RETRIES = 10;
    private static final long BUSY_RETRY_MILLIS = 100;
    private static final long UNMOUNT_TIMEOUT_SECONDS = 10;

    private final Path mountPoint;
    private final Path file;
    private final CompletableFuture<Integer> loop;
    private boolean closed;

    private FuseMount(Path mountPoint, Path file, CompletableFuture<Integer> loop) {
        this.mountPoint = mountPoint;
        this.file = file;
        this.loop = loop;
    }

    /**
     * Checks, before anything is opened, that {@code mountPoint} is an empty directory nothing is mounted on,
     * clearing a dead FUSE mount there when nothing holds it; throws {@link FuseSetupException} saying why not.
     */
    public static void checkMountPoint(Path mountPoint) throws IOException {
        MountPoint.check(mountPoint);
    }

    /** Mounts {@code device} as {@code mountPoint/options.fileName()}; returns once the file can be opened. */
    public static FuseMount mount(BlockDevice device, Path mountPoint, FuseOptions options) throws IOException {
        MountPoint.check(mountPoint);
        DiskFileSystem fs = LibFuse.load(() -> new DiskFileSystem(device, options));
        String[] args = options.libfuseArgs(mountPoint).toArray(String[]::new);
        CompletableFuture<Integer> loop = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                loop.complete(fs.run(args));
            } catch (Throwable e) {
                loop.completeExceptionally(e);
            }
        }, "fuse-loop " + mountPoint);
        t.setDaemon(true);
        t.start();
        awaitStart(fs, loop, mountPoint);
        return new FuseMount(mountPoint, mountPoint.resolve(options.fileName()), loop);
    }

    private static void awaitStart(DiskFileSystem fs, CompletableFuture<Integer> loop, Path mountPoint)
            throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(MOUNT_TIMEOUT_SECONDS);
        try {
            while (!fs.started().await(50, TimeUnit.MILLISECONDS)) {
                if (loop.isDone()) {
                    throw new FuseSetupException("cannot mount on " + mountPoint + " (libfuse exited with status "
                            + loop.getNow(-1) + "; its reason is printed above)");
                }
                if (System.nanoTime() > deadline) {
                    MountPoint.fusermount(mountPoint, true);
                    throw new FuseSetupException("the kernel did not connect to the FUSE file system on "
                            + mountPoint + " within " + MOUNT_TIMEOUT_SECONDS + " s");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            MountPoint.fusermount(mountPoint, true);
            throw new FuseSetupException("interrupted while mounting on " + mountPoint);
        } catch (java.util.concurrent.CompletionException e) {
            throw new FuseSetupException("cannot mount on " + mountPoint + ": " + e.getCause(), e.getCause());
        }
    }

    /** The device file. */
    public Path file() {
        return file;
    }

    public Path mountPoint() {
        return mountPoint;
    }

    /**
     * Waits until the file system is unmounted, by {@link #close} or from outside; returns libfuse's exit status
     * (0 for an orderly unmount).
     */
    public int awaitUnmount() throws InterruptedException {
        try {
            return loop.get();
        } catch (ExecutionException e) {
            LOG.warning("the FUSE loop on " + mountPoint + " failed: " + e.getCause());
            return -1;
        }
    }

    public boolean isMounted() {
        return !loop.isDone();
    }

    /**
     * Unmounts and waits (boundedly) for libfuse's loop to end. If something still holds the file open a second
     * after the first try (a loop device, say), the mount is detached lazily: it disappears from the directory now
     * and its requests fail once this process is gone, so we say so.
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        if (loop.isDone()) {
            return;
        }
        Optional<String> refused = MountPoint.fusermount(mountPoint, false);
        // The last close of the file by another process can reach the kernel's mount count a moment after that
        // process is gone (the release is asynchronous): a short grace before calling the mount busy.
        for (int i = 0; refused.isPresent() && i < BUSY_RETRIES; i++) {
            try {
                Thread.sleep(BUSY_RETRY_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            refused = MountPoint.fusermount(mountPoint, false);
        }
        if (refused.isPresent()) {
            LOG.warning(mountPoint + " is busy (" + refused.get() + "): " + file
                    + " is still open; detaching it lazily, so its users will see I/O errors from now on");
            MountPoint.fusermount(mountPoint, true);
        }
        try {
            loop.get(UNMOUNT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            LOG.warning("the FUSE loop on " + mountPoint + " did not end within " + UNMOUNT_TIMEOUT_SECONDS + " s");
        } catch (ExecutionException e) {
            LOG.warning("the FUSE loop on " + mountPoint + " failed: " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

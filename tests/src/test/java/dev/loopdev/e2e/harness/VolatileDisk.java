package dev.loopdev.e2e.harness;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A disk that really loses what was not flushed, to put a backing file on: {@code image} served by nbdkit's file
 * plugin under its cache filter in writeback mode (writes stay in the filter's cache, an unlinked temporary file,
 * until a flush writes them back and fdatasyncs the image), shown as the file MNT/disk by nbdfuse. fsync of that
 * file is a flush; anything else written to it, through the kernel's page cache or not, lives only in processes
 * and memory that {@link #cut} ends at once, as a power cut would. nbdkit runs under nbdfuse ({@code --command
 * nbdkit -s}), so the two die together.
 */
public final class VolatileDisk implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    private final Process nbdfuse;
    private final Path mnt;
    private final Path log;

    private VolatileDisk(Process nbdfuse, Path mnt, Path log) {
        this.nbdfuse = nbdfuse;
        this.mnt = mnt;
        this.log = log;
    }

    /** Serves {@code image} as {@code mnt}/disk; logs go into {@code dir}. */
    public static VolatileDisk start(Path dir, Path mnt, Path image) throws IOException {
        Files.createDirectories(mnt);
        Path pidfile = dir.resolve("volatile-disk.pid");
        Path log = dir.resolve("volatile-disk.log");
        Files.deleteIfExists(pidfile);
        Process p = new ProcessBuilder(List.of("nbdfuse", "-P", pidfile.toString(), mnt.resolve("disk").toString(),
                "--command", "nbdkit", "-s", "--filter=cache", "file", image.toString(), "cache=writeback"))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        VolatileDisk d = new VolatileDisk(p, mnt, log);
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!Files.exists(pidfile)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                d.cut();
                fail("nbdfuse and nbdkit did not come up in " + START_TIMEOUT.toSeconds() + " s\n" + d.log());
            }
            sleepQuietly(50);
        }
        return d;
    }

    /** The disk, as a file. */
    public Path file() {
        return mnt.resolve("disk");
    }

    public String log() {
        try {
            return "--- nbdfuse/nbdkit log ---\n" + Files.readString(log);
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    /**
     * The power cut: SIGKILL to nbdkit (its cache of unflushed writes goes with it), then to nbdfuse, then the
     * mount is detached lazily. Whatever the kernel still held for the file is lost with the FUSE connection.
     */
    public void cut() {
        nbdfuse.descendants().forEach(ProcessHandle::destroyForcibly);
        nbdfuse.destroyForcibly();
        try {
            nbdfuse.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (Tools.isMountPoint(mnt)) {
            Tools.run("fusermount3", "-uz", mnt.toString());
        }
    }

    /** An orderly end: unmount (nbdfuse flushes and nbdkit writes its cache back), or a cut if that fails. */
    @Override
    public void close() {
        if (nbdfuse.isAlive() && Tools.run("fusermount3", "-u", mnt.toString()).exitCode() == 0) {
            try {
                if (nbdfuse.waitFor(10, TimeUnit.SECONDS)) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        cut();
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

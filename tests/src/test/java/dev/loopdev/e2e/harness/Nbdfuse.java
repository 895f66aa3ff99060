package dev.loopdev.e2e.harness;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * libnbd's {@code nbdfuse}: an NBD export as the file MNT/disk, ready once its pidfile exists. {@link #unmount}
 * is the orderly end, which must succeed; {@link #close} ends it whatever state it is in (a server killed under
 * it, a failed test), lazily, and never fails.
 */
public final class Nbdfuse implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration EXIT_TIMEOUT = Duration.ofSeconds(10);

    private final Process process;
    private final Path mnt;
    private final Path log;

    private Nbdfuse(Process process, Path mnt, Path log) {
        this.process = process;
        this.mnt = mnt;
        this.log = log;
    }

    /** Serves {@code uri} as {@code mnt}/disk ({@code mnt} is made if missing); its log goes into {@code dir}. */
    public static Nbdfuse start(Path dir, Path mnt, String uri) throws IOException {
        Files.createDirectories(mnt);
        Path pidfile = dir.resolve("nbdfuse.pid");
        Path log = dir.resolve("nbdfuse.log");
        Files.deleteIfExists(pidfile);
        Process p = new ProcessBuilder("nbdfuse", "-P", pidfile.toString(), mnt.resolve("disk").toString(), uri)
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Nbdfuse n = new Nbdfuse(p, mnt, log);
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!Files.exists(pidfile)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                n.close();
                fail("nbdfuse did not come up in " + START_TIMEOUT.toSeconds() + " s\n" + n.log());
            }
            sleep(50);
        }
        return n;
    }

    /** The export as a file. */
    public Path file() {
        return mnt.resolve("disk");
    }

    public String log() {
        try {
            return "--- nbdfuse log ---\n" + Files.readString(log);
        } catch (IOException e) {
            return "(nbdfuse log unreadable: " + e + ")";
        }
    }

    /**
     * {@code fusermount3 -u}, retried for a few seconds (the kernel's loop driver lets go of the file
     * asynchronously after {@code losetup -d}); then nbdfuse must exit.
     */
    public void unmount() throws InterruptedException {
        Tools.Result r = null;
        for (int i = 0; i < 20; i++) {
            r = Tools.run("fusermount3", "-u", mnt.toString());
            if (r.exitCode() == 0) {
                break;
            }
            sleep(250);
        }
        r.ok();
        if (!process.waitFor(EXIT_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            fail("nbdfuse did not exit after fusermount3 -u\n" + log());
        }
    }

    @Override
    public void close() {
        if (Tools.isMountPoint(mnt)) {
            Tools.run("fusermount3", "-uz", mnt.toString());
        }
        try {
            if (!process.waitFor(EXIT_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                Tools.kill(process);
            }
        } catch (InterruptedException e) {
            Tools.kill(process);
            Thread.currentThread().interrupt();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}

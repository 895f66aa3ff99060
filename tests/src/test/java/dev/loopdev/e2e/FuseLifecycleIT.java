package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * How {@code loopdev fuse} starts and stops: signals and an unmount from outside end it cleanly with the data on
 * disk; each unusable mount point, a dead mount left by a killed process, and a missing libfuse2 give one line.
 */
class FuseLifecycleIT {
    private static final long IMAGE_BYTES = 4 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Tools.require("dd", "fusermount", "kill", "unshare", "mount", "ldconfig");
    }

    private Path image() throws IOException {
        Path image = dir.resolve("image");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(IMAGE_BYTES);
        }
        return image;
    }

    private static void writeMarker(Path disk) {
        Tools.ok("dd", "if=/dev/urandom", "of=" + disk, "bs=4096", "count=3", "seek=5", "conv=notrunc",
                "status=none");
    }

    private static byte[] range(Path file, long offset, int length) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            byte[] b = new byte[length];
            f.seek(offset);
            f.readFully(b);
            return b;
        }
    }

    @ParameterizedTest(name = "SIG{0}")
    @ValueSource(strings = {"INT", "TERM"})
    void aSignalUnmountsFlushesAndExitsZero(String signal) throws IOException {
        Path image = image();
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        byte[] written;
        try (LoopdevServer p = LoopdevServer.fuse(dir, image, mnt)) {
            writeMarker(mnt.resolve("disk"));
            written = range(mnt.resolve("disk"), 5 * 4096, 3 * 4096);
            p.stop(signal);
            assertTrue(p.stderr().contains("SIG" + signal + ": unmounting"), p.stderr());
        } finally {
            if (Tools.isMountPoint(mnt)) {
                Tools.run("fusermount", "-u", "-z", mnt.toString());
            }
        }
        assertFalse(Tools.isMountPoint(mnt), "still mounted after exit");
        assertArrayEquals(written, range(image, 5 * 4096, 3 * 4096));
    }

    @Test
    void anUnmountFromOutsideEndsItWithExitZero() throws IOException, InterruptedException {
        Path image = image();
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        try (LoopdevServer p = LoopdevServer.fuse(dir, image, mnt)) {
            writeMarker(mnt.resolve("disk"));
            Tools.ok("fusermount", "-u", mnt.toString());
            assertTrue(p.process().waitFor(20, TimeUnit.SECONDS), "loopdev did not exit after fusermount -u");
            assertEquals(0, p.process().exitValue(), p.stderr());
        }
        assertFalse(Tools.isMountPoint(mnt));
    }

    @Test
    void unusableMountPointsGiveOneLine() throws IOException {
        Path image = image();
        Path full = Files.createDirectory(dir.resolve("full"));
        Files.writeString(full.resolve("x"), "x");
        assertFailsWith("no such directory", image, dir.resolve("missing"));
        assertFailsWith("not a directory", image, image);
        assertFailsWith("is not empty", image, full);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        try (FuseCleanup undo = new FuseCleanup()) {
            FuseStack.fuse(undo, dir, image, mnt);
            assertFailsWith("is busy: a fuse.loopdev file system is already mounted there", image, mnt);
            undo.unwind();
        }
    }

    /**
     * SIGKILL of loopdev and of the fusermount that would unmount after it (auto_unmount) leaves a dead mount:
     * "Transport endpoint is not connected". Nothing holds it, so the next loopdev clears it and mounts.
     */
    @Test
    void aDeadMountLeftByAKilledProcessIsCleared() throws IOException {
        Path image = image();
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        try (FuseCleanup undo = new FuseCleanup()) {
            undo.add(() -> Tools.run("fusermount", "-u", "-z", mnt.toString()));
            LoopdevServer killed = LoopdevServer.fuse(dir, image, mnt);
            List<ProcessHandle> all = new ArrayList<>(killed.process().descendants().toList());
            all.add(killed.process().toHandle());
            all.forEach(ProcessHandle::destroyForcibly);
            killed.process().waitFor(10, TimeUnit.SECONDS);
            Tools.Result ls = Tools.run("ls", mnt.toString());
            assertTrue(ls.stderr().contains("Transport endpoint is not connected"), ls.describe());

            LoopdevServer next = FuseStack.fuse(undo, dir, image, mnt);
            assertTrue(next.stderr().contains("unmounted a stale FUSE mount"), next.stderr());
            writeMarker(mnt.resolve("disk"));
            undo.unwind();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** libfuse.so.2 hidden in a private mount namespace (an empty file bound over it) as if not installed. */
    @Test
    void aMissingLibfuse2IsOneLine() throws IOException {
        Path image = image();
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        // grep first: the whole cache listing is longer than what Tools keeps of a command's output
        String lib = Tools.run("sh", "-c", "ldconfig -p | grep -F 'libfuse.so.2 '").stdout().lines()
                .map(l -> l.substring(l.indexOf("=> ") + 3).trim()).findFirst()
                .orElseThrow(() -> new AssertionError("libfuse.so.2 is not installed (apt-get install libfuse2)"));
        String real = Path.of(lib).toRealPath().toString();
        List<String> cmd = new ArrayList<>(List.of("unshare", "-m", "sh", "-c",
                "mount --bind /dev/null \"$0\" && exec \"$@\"", real));
        cmd.addAll(LoopdevServer.command("fuse", image.toString(), mnt.toString()));
        Tools.Result r = Tools.run(Duration.ofSeconds(30), Map.of(), cmd);
        assertEquals(1, r.exitCode(), r.describe());
        assertTrue(r.stderr().contains("loopdev: libfuse2 is not installed"), r.describe());
        assertFalse(r.stderr().contains("\tat "), "no stack trace: " + r.describe());
    }

    private static void assertFailsWith(String message, Path image, Path mnt) {
        Tools.Result r = Tools.run(Duration.ofSeconds(30), Map.of(), LoopdevServer.command("fuse", image.toString(),
                mnt.toString()));
        assertEquals(1, r.exitCode(), r.describe());
        assertTrue(r.stderr().contains(message), r.describe());
        assertEquals(1, r.stderr().lines().filter(l -> l.startsWith("loopdev:")).count(), r.describe());
        assertFalse(r.stderr().contains("\tat "), "no stack trace: " + r.describe());
    }
}

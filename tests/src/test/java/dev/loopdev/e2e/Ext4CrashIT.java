package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Nbdfuse;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ext4 on the export (nbdfuse, then losetup, then mount), a writer creating and fsyncing files, and kill -9 of the
 * server mid-write. Afterwards e2fsck replays the journal and must leave the image clean: {@code e2fsck -fy} may
 * replay and repair nothing worse than that, and a second {@code e2fsck -fn} must find nothing at all. Whatever the
 * kernel had not yet sent (the FUSE page cache) is lost, so this checks that the flushes ext4 issues for its journal
 * commits travel through the whole stack and are honoured in order.
 */
class Ext4CrashIT {
    private static final long IMAGE_BYTES = 64 << 20;

    private Path dir;
    private final List<Runnable> undo = new ArrayList<>();

    @BeforeEach
    void tmpfs() throws IOException {
        dir = Files.createTempDirectory(Path.of("/dev/shm"), "loopdev-ext4crash");
        Tools.require("nbdfuse", "fusermount3", "losetup", "mkfs.ext4", "e2fsck", "mount", "umount");
    }

    @AfterEach
    void clean() throws IOException {
        unwind();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** Undoes every step, newest first, whatever fails on the way. */
    private void unwind() {
        while (!undo.isEmpty()) {
            try {
                undo.remove(undo.size() - 1).run();
            } catch (RuntimeException | AssertionError ignored) {
                // best effort: the next steps must still run
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"mapped", "positional"})
    @Timeout(110)
    void ext4IsCleanAfterTheServerIsKilledMidWrite(String writePath) throws Exception {
        Path image = Images.sparse(dir, "disk.img", IMAGE_BYTES);
        Tools.ok(Duration.ofSeconds(60), "mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,nodiscard",
                image.toString());
        LoopdevServer server = LoopdevServer.unix(dir, image, "--write-path", writePath);
        undo.add(server::close);
        Path fuseFile = nbdfuse(server.uri());
        String loop = Tools.ok("losetup", "-f", "--show", fuseFile.toString()).stdout().trim();
        undo.add(() -> Tools.run("losetup", "-d", loop));
        Path fs = Files.createDirectory(dir.resolve("fs"));
        Tools.ok(Duration.ofSeconds(20), "mount", "-t", "ext4", loop, fs.toString());
        undo.add(() -> {
            // With the server gone, write-back fails and ext4 gives up on it; lazily if the mount stays busy.
            if (Tools.run("umount", fs.toString()).exitCode() != 0) {
                Tools.run("umount", "-l", fs.toString());
            }
        });
        Process writer = new ProcessBuilder("sh", "-c", "i=0; while [ $i -lt 5000 ]; do "
                + "dd if=/dev/urandom of=" + fs + "/f$i bs=16k count=$((1 + i % 8)) conv=fsync 2>/dev/null; "
                + "mkdir -p " + fs + "/d$((i % 7)) && mv " + fs + "/f$i " + fs + "/d$((i % 7))/; "
                + "i=$((i+1)); done").redirectErrorStream(true).redirectOutput(dir.resolve("writer.log").toFile())
                .start();
        undo.add(writer::destroyForcibly);
        Thread.sleep(2500);
        assertTrue(writer.isAlive(), "the writer finished before the kill: nothing was in flight");
        server.close(); // SIGKILL mid-write
        writer.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
        unwind(); // umount, losetup -d, fusermount3 -u, in that order, before e2fsck sees the image

        Tools.Result repair = Tools.run(Duration.ofSeconds(60), java.util.Map.of(),
                List.of("e2fsck", "-fy", image.toString()));
        System.out.println(writePath + ": e2fsck -fy exit " + repair.exitCode() + "\n" + repair.stdout());
        // 0: clean; 1: the journal was replayed or something was fixed. Anything else is a damaged file system.
        assertTrue(repair.exitCode() <= 1, repair.describe());
        // After an unclean stop the superblock's free counts are stale by design; anything else fixed is damage.
        String[] lines = repair.stdout().split("\n");
        for (int i = 1; i < lines.length; i++) {
            if (lines[i].startsWith("Fix? yes") && !lines[i - 1].matches("Free (blocks|inodes) count wrong.*")) {
                fail("e2fsck repaired more than stale free counts: " + lines[i - 1] + "\n" + repair.describe());
            }
        }
        assertEquals(0, Tools.run(Duration.ofSeconds(60), java.util.Map.of(),
                List.of("e2fsck", "-fn", image.toString())).exitCode(), "e2fsck -fn after the repair");
    }

    /** nbdfuse on the export; returns the file it serves once it is ready. */
    private Path nbdfuse(String uri) throws IOException {
        Nbdfuse n = Nbdfuse.start(dir, dir.resolve("fuse"), uri);
        undo.add(n::close); // the server is killed under it: no orderly unmount
        return n.file();
    }
}

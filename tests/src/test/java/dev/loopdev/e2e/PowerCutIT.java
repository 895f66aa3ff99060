package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.ShmTempDir;
import dev.loopdev.e2e.harness.Nbdfuse;
import dev.loopdev.e2e.harness.Tools;
import dev.loopdev.e2e.harness.VolatileDisk;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Power cuts: the backing file lives on a {@link VolatileDisk}, which keeps unflushed writes in memory (nbdkit's
 * writeback cache) and loses them when cut. A write storm with FLUSH and FUA runs against {@code loopdev serve} on
 * it, and the disk, the server and everything between them die at once; then every write that was FLUSHed or FUA
 * must be on the disk, and every sector whole. That the cuts bite is checked too: the storm ends with writes that
 * no FLUSH followed, and each cut must lose some of them. Then ext4 on the export, files written and fsynced (file and
 * directory) one after another, a cut mid-write: e2fsck after journal replay must find the file system clean,
 * and every file whose fsync returned must be there with its contents.
 *
 * <p>{@code -Dloopdev.powercut.cuts=N} (default 3) and {@code -Dloopdev.powercut.ext4cuts=N} (default 1) per
 * variant; {@code bench/scripts/power-cut.sh} runs 20 and 5.
 */
class PowerCutIT {
    private static final int IMAGE_BYTES = 2 << 20;
    private static final long EXT4_BYTES = 64 << 20;
    private static final int CUTS = Integer.getInteger("loopdev.powercut.cuts", 3);
    private static final int EXT4_CUTS = Integer.getInteger("loopdev.powercut.ext4cuts", 1);

    @TempDir(factory = ShmTempDir.class)
    Path dir;

    @BeforeEach
    void tools() {
        Tools.require("nbdkit", "nbdfuse", "fusermount3", "losetup", "mkfs.ext4", "e2fsck", "debugfs", "mount",
                "umount");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    @Timeout(600)
    void flushedWritesSurviveAPowerCut(Variant v) throws Exception {
        long seed = Seeds.seed(0x90c7_0001L);
        Random r = new Random(seed);
        Path image = v.zeroDevice(dir, "disk.img", IMAGE_BYTES);
        String[] options = v.options(dir);
        WriteHistory last = null;
        long acked = 0;
        long durableSectors = 0;
        int lost = 0;
        int torn = 0;
        for (int i = 0; i <= CUTS; i++) {
            try (VolatileDisk disk = VolatileDisk.start(dir, dir.resolve("disk"), image);
                 LoopdevServer server = LoopdevServer.unix(dir, disk.file(), options)) {
                byte[] now;
                try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                    now = c.read(0, IMAGE_BYTES);
                }
                if (last != null) {
                    int cut = i;
                    String violation = last.checkAfterPowerCut(now, v.writePath().equals("mapped"));
                    assertNull(violation, () -> "after power cut " + cut + " (seed " + seed + ")");
                    acked += last.counts()[0];
                    durableSectors += last.counts()[1];
                    lost += last.lost;
                    torn += last.torn;
                    // the storm ends with writes no FLUSH followed: a cut that kept them all did not cut
                    assertTrue(last.lost > 0, () -> "power cut " + cut + " lost no acknowledged write that was "
                            + "not yet durable: the cut did not cut anything (seed " + seed + ")");
                }
                if (i == CUTS) {
                    server.stop();
                    break;
                }
                last = new WriteHistory(now);
                WriteStorm.run(server.socket(), last, seed * 31 + i, 200 + r.nextInt(600), () -> {
                    disk.cut();
                    server.close();
                });
            }
        }
        System.out.println(v + ": " + CUTS + " power cuts, " + acked + " sector writes acknowledged, "
                + durableSectors + " sectors durable at the cut, " + lost + " sectors lost their last acknowledged "
                + "(not durable) write, " + torn + " torn by a write in flight");
        assertTrue(acked > CUTS * 100L, "only " + acked + " writes were acknowledged in all");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    @Timeout(600)
    void ext4IsCleanAndKeepsEveryFsyncedFileAfterAPowerCut(Variant v) throws Exception {
        Path image = v.zeroDevice(dir, "disk.img", (int) EXT4_BYTES);
        String[] options = v.options(dir);
        try (Stack s = new Stack(image, options)) {
            Tools.ok(Duration.ofSeconds(60), "mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,nodiscard",
                    s.fuse.file().toString());
            s.fuse.unmount();
            s.server.stop(); // flushes: the file system is on the disk before the first cut
        }
        for (int cut = 0; cut < EXT4_CUTS; cut++) {
            Path written = dir.resolve("fsynced-" + cut + ".txt");
            try (Stack s = new Stack(image, options)) {
                Path fs = s.mount();
                Process writer = new ProcessBuilder("sh", "-c", "i=0; while [ $i -lt 5000 ]; do "
                        + "d=" + fs + "/c" + cut + "d$((i % 5)); mkdir -p $d && sync $d/.. && "
                        + "yes c" + cut + "f$i | head -c $((4096 * (1 + i % 13))) > $d/f$i && "
                        + "sync $d/f$i && sync $d && echo $d/f$i $((4096 * (1 + i % 13))) >> " + written + "; "
                        + "i=$((i+1)); done").redirectErrorStream(true)
                        .redirectOutput(dir.resolve("writer.log").toFile()).start();
                s.undo.add(() -> Tools.kill(writer));
                // At least a few files fsynced (on a loaded host that may take a while), then a little more.
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (lines(written) < 5 && writer.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                Thread.sleep(new Random(cut).nextInt(1000));
                assertTrue(writer.isAlive(), "the writer finished before the cut: nothing was in flight");
                s.disk.cut();
                s.server.close();
                Tools.kill(writer);
            }
            List<String> fsynced = Files.exists(written) ? Files.readAllLines(written) : List.of();
            assertTrue(fsynced.size() >= 5, "only " + fsynced.size() + " files were fsynced before the cut");
            checkFileSystem(v, image, options, fsynced, cut);
        }
    }

    private static long lines(Path f) throws IOException {
        return Files.exists(f) ? Files.readAllLines(f).size() : 0;
    }

    /** e2fsck replays the journal and finds nothing worse; every fsynced file is there, whole. */
    private void checkFileSystem(Variant v, Path image, String[] options, List<String> fsynced, int cut)
            throws Exception {
        try (LoopdevServer server = LoopdevServer.unix(dir, image, options);
             Nbdfuse fuse = Nbdfuse.start(dir, dir.resolve("check"), server.uri())) {
            Tools.Result repair = Tools.run(Duration.ofSeconds(120), Map.of(),
                    List.of("e2fsck", "-fy", fuse.file().toString()));
            System.out.println(v + " cut " + cut + ": " + fsynced.size() + " files fsynced; e2fsck -fy exit "
                    + repair.exitCode() + "\n" + repair.stdout());
            assertTrue(repair.exitCode() <= 1, repair.describe());
            String[] lines = repair.stdout().split("\n");
            for (int i = 1; i < lines.length; i++) {
                if (lines[i].startsWith("Fix? yes") && !lines[i - 1].matches("Free (blocks|inodes) count wrong.*")) {
                    fail("e2fsck repaired more than stale free counts: " + lines[i - 1] + "\n" + repair.describe());
                }
            }
            assertEquals(0, Tools.run(Duration.ofSeconds(120), Map.of(),
                    List.of("e2fsck", "-fn", fuse.file().toString())).exitCode(), "e2fsck -fn after the repair");
            Path out = dir.resolve("dumped");
            for (String line : fsynced) {
                String[] f = line.split(" ");
                String inImage = f[0].substring(f[0].indexOf("/c" + cut + "d"));
                Files.deleteIfExists(out);
                Tools.ok(Duration.ofSeconds(30), "debugfs", "-R", "dump " + inImage + " " + out,
                        fuse.file().toString());
                String name = inImage.substring(inImage.lastIndexOf('/') + 1);
                int size = Integer.parseInt(f[1]);
                byte[] want = ("c" + cut + name + "\n").repeat(size).substring(0, size)
                        .getBytes(StandardCharsets.US_ASCII);
                byte[] got = Files.exists(out) ? Files.readAllBytes(out) : new byte[0];
                assertTrue(java.util.Arrays.equals(want, got), () -> inImage + ", fsynced before the cut, reads back "
                        + got.length + " bytes, not its " + want.length);
            }
            fuse.unmount();
            server.stop();
        }
    }

    /** The volatile disk, loopdev serving the image on it, and nbdfuse showing the export as a file. */
    private final class Stack implements AutoCloseable {
        final List<Runnable> undo = new ArrayList<>();
        final VolatileDisk disk;
        final LoopdevServer server;
        final Nbdfuse fuse;

        Stack(Path image, String[] options) throws IOException {
            disk = VolatileDisk.start(dir, dir.resolve("disk"), image);
            undo.add(disk::cut);
            server = LoopdevServer.unix(dir, disk.file(), options);
            undo.add(server::close);
            fuse = Nbdfuse.start(dir, dir.resolve("export"), server.uri());
            undo.add(fuse::close);
        }

        /** ext4 on the export, through the kernel's loop driver. */
        Path mount() throws IOException {
            String loop = Tools.ok("losetup", "-f", "--show", fuse.file().toString()).stdout().trim();
            undo.add(() -> Tools.run("losetup", "-d", loop));
            Path fs = Files.createDirectories(dir.resolve("fs"));
            Tools.ok(Duration.ofSeconds(30), "mount", "-t", "ext4", loop, fs.toString());
            undo.add(() -> {
                if (Tools.run("umount", fs.toString()).exitCode() != 0) {
                    Tools.run("umount", "-l", fs.toString());
                }
            });
            return fs;
        }

        /** Undoes every step, newest first: after a cut, the orderly steps fail and the lazy ones take over. */
        @Override
        public void close() {
            while (!undo.isEmpty()) {
                try {
                    undo.remove(undo.size() - 1).run();
                } catch (RuntimeException | AssertionError ignored) {
                    // best effort: the next steps must still run
                }
            }
        }
    }
}

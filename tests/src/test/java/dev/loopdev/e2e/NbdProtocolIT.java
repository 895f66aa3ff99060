package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What nbdkit and qemu-nbd offer, checked with the real clients: block status (nbdinfo --map, qemu-img map),
 * several exports (nbdinfo --list), captive mode (--run), statistics, and systemd socket activation.
 */
class NbdProtocolIT {
    private static final long MiB = 1 << 20;
    private static final long SIZE = 64 * MiB;
    private static final long DATA_AT = 10 * MiB;
    private static final int DATA_BYTES = (int) (2 * MiB);

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Tools.require("nbdinfo", "nbdcopy", "qemu-img", "systemd-socket-activate", "cmp");
    }

    /** 64 MiB, all hole but 2 MiB of random data at 10 MiB. */
    private Path sparseWithData(String name) {
        Path p = Images.sparse(dir, name, SIZE);
        byte[] data = new byte[DATA_BYTES];
        new Random(5).nextBytes(data);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.seek(DATA_AT);
            f.write(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    @Test
    void nbdinfoMapAndQemuImgMapSeeTheHoles() {
        Path image = sparseWithData("sparse.img");
        try (LoopdevServer server = LoopdevServer.unix(dir, image)) {
            List<String> map = Tools.ok("nbdinfo", "--map", server.uri()).stdout().strip().lines()
                    .map(l -> l.strip().replaceAll("\\s+", " ")).toList();
            assertEquals(List.of("0 " + DATA_AT + " 3 hole,zero", DATA_AT + " " + DATA_BYTES + " 0 data",
                    (DATA_AT + DATA_BYTES) + " " + (SIZE - DATA_AT - DATA_BYTES) + " 3 hole,zero"), map);
            String qemu = Tools.ok("qemu-img", "map", "--output=json", server.uri()).stdout();
            assertTrue(qemu.contains("\"start\": " + DATA_AT + ", \"length\": " + DATA_BYTES + ", \"depth\": 0, "
                    + "\"present\": true, \"zero\": false, \"data\": true"), qemu);
            assertTrue(qemu.contains("\"start\": 0, \"length\": " + DATA_AT + ", \"depth\": 0, \"present\": true, "
                    + "\"zero\": true, \"data\": false"), qemu);
            server.stop();
        }
    }

    @Test
    void underATransformEverythingIsData() {
        Path image = sparseWithData("sparse.img");
        Path key = Images.keyFile(dir, new byte[] {7, 8, 9});
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--transform", "xor", "--key-file",
                key.toString())) {
            String map = Tools.ok("nbdinfo", "--map", server.uri()).stdout().strip().replaceAll("\\s+", " ");
            assertEquals("0 " + SIZE + " 0 data", map);
            server.stop();
        }
    }

    @Test
    void severalExportsAreListedAndServed() {
        Path a = sparseWithData("a.img");
        Path b = Images.random(dir, "b.img", 3 * MiB, 11);
        try (LoopdevServer server = LoopdevServer.unix(dir, a, "--export", "first", "--export", "second=" + b)) {
            assertTrue(server.uri().contains("/first?"), server.uri());
            String list = Tools.ok("nbdinfo", "--list", server.uri()).stdout();
            assertTrue(list.contains("export=\"first\":") && list.contains("export=\"second\":"), list);
            assertTrue(list.contains("export-size: " + SIZE) && list.contains("export-size: " + 3 * MiB), list);
            Path out = dir.resolve("second.out");
            String second = "nbd+unix:///second?socket=" + server.socket();
            Tools.ok("nbdcopy", second, out.toString());
            Tools.ok("cmp", b.toString(), out.toString());
            // The empty name is the default export: the first one.
            String size = Tools.ok("nbdinfo", "--size", "nbd+unix:///?socket=" + server.socket()).stdout().strip();
            assertEquals(Long.toString(SIZE), size);
            server.stop();
        }
    }

    @Test
    void runExitsWithTheCommandsStatusAfterFlushing() throws IOException {
        Path image = Images.sparse(dir, "disk.img", 8 * MiB);
        Path src = Images.random(dir, "src.img", 8 * MiB, 3);
        String cmd = "nbdinfo --size \"$uri\" && test \"$exportname\" = disk && test -S \"$unixsocket\" "
                + "&& nbdcopy " + src + " \"$uri\" && exit 3";
        Tools.Result r = Tools.run(Duration.ofSeconds(60), Map.of(),
                LoopdevServer.command("serve", image.toString(), "--export", "disk", "--run", cmd, "--stats"));
        assertEquals(3, r.exitCode(), r::describe);
        assertEquals(Long.toString(8 * MiB), r.stdout().strip(), r::describe);
        Tools.ok("cmp", src.toString(), image.toString());
        // Statistics at exit, as nbdkit's stats filter: the 8 MiB nbdcopy wrote, and no errors.
        assertTrue(r.stderr().matches("(?s).*write: +\\d+ ops, 0 errors, " + 8 * MiB + " bytes.*"), r::describe);
    }

    @Test
    void printUriWithRunAndStatsOnUsr1() {
        Path image = sparseWithData("disk.img");
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--stats")) {
            Tools.ok("nbdcopy", server.uri(), dir.resolve("copy.img").toString());
            Tools.ok("kill", "-USR1", Long.toString(server.pid()));
            String stderr = waitFor(server, "read:");
            assertTrue(stderr.matches("(?s).*read: +\\d+ ops, 0 errors, " + DATA_BYTES + " bytes.*"),
                    "nbdcopy reads only the data, skipping holes\n" + stderr);
            assertTrue(stderr.contains("extents:"), stderr);
            server.stop();
        }
        Tools.Result r = Tools.run(Duration.ofSeconds(60), Map.of(), LoopdevServer.command("serve",
                image.toString(), "--print-uri", "--run", "true"));
        assertEquals(0, r.exitCode(), r::describe);
        assertTrue(r.stdout().startsWith("nbd+unix:///?socket="), r::describe);
    }

    @Test
    void systemdSocketActivation() throws Exception {
        Path image = sparseWithData("disk.img");
        Path socket = dir.resolve("activated.sock");
        List<String> cmd = Tools.list("systemd-socket-activate", "-l", socket.toString());
        cmd.addAll(LoopdevServer.command("serve", image.toString()));
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(dir.resolve("act.out").toFile()).redirectError(dir.resolve("act.err").toFile())
                .start();
        try {
            for (int i = 0; i < 100 && !Files.exists(socket); i++) {
                Thread.sleep(100);
            }
            String uri = "nbd+unix:///?socket=" + socket;
            // The first connection starts the JVM: give it the time it needs.
            Tools.Result r = Tools.run(Duration.ofSeconds(60), Map.of(), List.of("nbdinfo", "--map", uri));
            assertEquals(0, r.exitCode(), () -> r.describe() + "\n" + read(dir.resolve("act.err")));
            assertTrue(r.stdout().contains(DATA_AT + " " + DATA_BYTES + " 0 data")
                    || r.stdout().replaceAll("\\s+", " ").contains(DATA_AT + " " + DATA_BYTES + " 0 data"), r::describe);
            Tools.ok("nbdcopy", uri, dir.resolve("copy.img").toString());
            Tools.ok("cmp", image.toString(), dir.resolve("copy.img").toString());
        } finally {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        }
    }

    private static String waitFor(LoopdevServer server, String text) {
        for (int i = 0; i < 100; i++) {
            String s = server.stderr();
            if (s.contains(text)) {
                return s;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        fail("'" + text + "' never appeared\n" + server.stderr());
        return null;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "(" + e + ")";
        }
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.Errno;
import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A sparse 32 MiB image on an 8 MiB tmpfs: writing through NBD fills the file system. The client must see ENOSPC
 * (never a dead server, never a silent drop), the server must keep serving, every acknowledged write must read
 * back, and the file must hold it after a clean stop. Both write paths, on JDK 17 and JDK 25: the mapped path
 * must reserve blocks before it stores into a mapping, or a full file system raises SIGBUS, which JDK 17 turns
 * into an InternalError that can arrive late.
 */
class FullDiskIT {
    private static final int MiB = 1 << 20;
    static final Path JDK25 = Path.of(System.getProperty("loopdev.jdk25", "/usr/lib/jvm/temurin-25-jdk-amd64"));

    @TempDir
    Path dir;
    private Path mnt;

    static Stream<Arguments> matrix() {
        Path jdk17 = Path.of(System.getProperty("java.home"));
        return Stream.of("mapped", "positional").flatMap(p -> Stream.of(Arguments.of(p, jdk17),
                Arguments.of(p, JDK25)));
    }

    @AfterEach
    void unmount() {
        if (mnt != null) {
            Tools.run("umount", mnt.toString());
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("matrix")
    void aFullFileSystemIsEnospcAndLosesNothingAcknowledged(String writePath, Path javaHome) throws IOException {
        assertTrue(Files.isExecutable(javaHome.resolve("bin/java")), javaHome + " has no java (-Dloopdev.jdk25=)");
        mnt = Files.createDirectory(dir.resolve("small"));
        Tools.ok("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt.toString());
        Path image = Images.sparse(mnt, "disk.img", 32 * MiB);
        Random r = new Random(Seeds.seed(0xf1_0001L));
        List<long[]> acked = new ArrayList<>();
        List<byte[]> data = new ArrayList<>();
        try (LoopdevServer server = LoopdevServer.unixOn(javaHome, dir, image, "--write-path", writePath)) {
            int enospc = 0;
            try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                long offset = 0;
                // Uneven sizes, so a write straddles the point where the file system fills.
                while (offset < 32 * MiB && enospc < 3) {
                    byte[] d = new byte[(int) Math.min(100_000 + r.nextInt(200_000), 32 * MiB - offset)];
                    r.nextBytes(d);
                    int error = c.write(offset, d, r.nextInt(4) == 0);
                    if (error == 0) {
                        acked.add(new long[] {offset, d.length});
                        data.add(d);
                    } else {
                        assertEquals(Errno.ENOSPC.code, error, "the error a write on a full file system gets");
                        enospc++;
                    }
                    offset += d.length;
                    server.assertAlive();
                }
                assertEquals(3, enospc, "writes past 8 MiB must fail with ENOSPC");
                assertTrue(acked.size() > 10, "some writes must have fitted");
                assertEquals(0, c.flush(), "FLUSH after ENOSPC");
                // Overwriting what is already allocated needs no new blocks: it must still work.
                byte[] again = new byte[(int) acked.get(0)[1]];
                r.nextBytes(again);
                assertEquals(0, c.write(0, again, true), "overwrite of allocated blocks on a full file system");
                data.set(0, again);
                for (int i = 0; i < acked.size(); i++) {
                    Images.assertSameBytes(data.get(i), c.read(acked.get(i)[0], (int) acked.get(i)[1]),
                            "acknowledged write " + i + " read back");
                }
            }
            String json = Tools.ok("nbdinfo", "--json", server.uri()).stdout();
            assertTrue(json.contains("\"export-size\": " + 32 * MiB), json);
            server.stop();
        }
        byte[] file = Images.readAll(image);
        for (int i = 0; i < acked.size(); i++) {
            Images.assertSameBytes(data.get(i), Images.slice(file, acked.get(i)[0], (int) acked.get(i)[1]),
                    "acknowledged write " + i + " in the file after stop");
        }
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.loopdev.Errno;
import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import dev.loopdev.nbd.Nbd;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The backing file changes underneath a running server, as it can under the loop driver. Truncated: what lies
 * beyond the new end is EIO for reads and writes (and a write must not grow the file back), the rest is served
 * as before, the server survives. Unlinked: the server keeps serving the open file, as loop does.
 */
class BackingFileGoneIT {
    private static final int MiB = 1 << 20;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"mapped", "positional"})
    void truncatedUnderneathIsEioBeyondTheNewEnd(String writePath) throws IOException {
        Path image = Images.random(dir, "disk.img", 8 * MiB, 61);
        byte[] before = Images.readAll(image);
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--write-path", writePath)) {
            try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                // Touch both halves first, so the mapped path has its window mapped and its pages reserved.
                assertArrayEquals(Images.slice(before, 6 * MiB, 4096), c.read(6 * MiB, 4096));
                assertEquals(0, c.write(6 * MiB, new byte[4096], false));
                try (FileChannel f = FileChannel.open(image, StandardOpenOption.WRITE)) {
                    f.truncate(4 * MiB);
                }
                byte[] w = new byte[4096];
                new Random(62).nextBytes(w);
                for (long at : new long[] {6 * MiB, 4 * MiB - 512, 8 * MiB - 4096}) {
                    int length = 4096;
                    assertEquals(Errno.EIO.code, c.call(0, Nbd.CMD_READ, at, length, null).error(),
                            "READ at " + at + " past the new end");
                    assertEquals(Errno.EIO.code, c.write(at, w, false), "WRITE at " + at + " past the new end");
                    assertEquals(Errno.EIO.code, c.write(at, w, true), "FUA WRITE at " + at + " past the new end");
                    server.assertAlive();
                }
                assertEquals(4 * MiB, Files.size(image), "a write past the end grew the file");
                assertArrayEquals(Images.slice(before, MiB, 65536), c.read(MiB, 65536), "data before the new end");
                assertEquals(0, c.write(2 * MiB, w, true), "WRITE before the new end");
                assertArrayEquals(w, c.read(2 * MiB, w.length), "WRITE before the new end, read back");
                assertEquals(0, c.flush(), "FLUSH");
            }
            Tools.ok("nbdinfo", server.uri());
            server.stop();
        }
        assertEquals(4 * MiB, Files.size(image), "the file's size after stop");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"mapped", "positional"})
    void unlinkedUnderneathIsStillServed(String writePath) throws IOException {
        Path image = Images.random(dir, "disk.img", 8 * MiB, 63);
        byte[] before = Images.readAll(image);
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--write-path", writePath)) {
            try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                Files.delete(image);
                assertFalse(Files.exists(image));
                assertArrayEquals(Images.slice(before, 7 * MiB, 65536), c.read(7 * MiB, 65536), "read after unlink");
                byte[] w = new byte[300_000];
                new Random(64).nextBytes(w);
                assertEquals(0, c.write(3 * MiB + 17, w, true), "write after unlink");
                assertEquals(0, c.flush(), "FLUSH after unlink");
                assertArrayEquals(w, c.read(3 * MiB + 17, w.length), "the write read back");
            }
            try (NbdTestClient fresh = NbdTestClient.open(server.socket())) {
                assertEquals(8 * MiB, fresh.exportSize());
                assertArrayEquals(Images.slice(before, 0, 4096), fresh.read(0, 4096), "a new connection");
            }
            server.stop();
        }
        assertFalse(Files.exists(image), "the server recreated the file");
    }
}

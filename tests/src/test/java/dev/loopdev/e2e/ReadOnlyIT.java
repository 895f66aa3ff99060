package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.Errno;
import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import dev.loopdev.nbd.Nbd;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Read-only exports: asked for with {@code --read-only}, or forced because root itself cannot write the file (a
 * file system remounted read-only; an immutable file). Every write command gets EPERM, on the wire and as libnbd
 * reports it; reads work; the file's bytes and mtime are untouched, even after the clean stop's flush.
 */
class ReadOnlyIT {
    private static final int MiB = 1 << 20;

    @TempDir
    Path dir;
    private Path mnt;
    private Path immutable;

    @AfterEach
    void undo() {
        if (immutable != null) {
            Tools.run("chattr", "-i", immutable.toString());
        }
        if (mnt != null) {
            Tools.run("umount", mnt.toString());
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"--read-only", "remounted-ro", "immutable --read-only"})
    void everyWriteIsEpermAndTheFileIsUntouched(String how) throws IOException {
        Path image;
        String[] options = {};
        if (how.equals("remounted-ro")) {
            mnt = Files.createDirectory(dir.resolve("ro"));
            Tools.ok("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt.toString());
            image = Images.random(mnt, "disk.img", 4 * MiB, 71);
        } else {
            image = Images.random(dir, "disk.img", 4 * MiB, 71);
        }
        // An mtime in the past: any write, even in this same second, would show.
        Files.setLastModifiedTime(image, FileTime.fromMillis(1_000_000_000_000L));
        switch (how) {
            case "--read-only" -> options = new String[] {"--read-only"};
            case "remounted-ro" -> Tools.ok("mount", "-o", "remount,ro", mnt.toString());
            default -> {
                Tools.ok("chattr", "+i", image.toString());
                immutable = image;
                options = new String[] {"--read-only"};
            }
        }
        FileTime mtime = Files.getLastModifiedTime(image);
        byte[] before = Images.readAll(image);
        for (String writePath : new String[] {"mapped", "positional"}) {
            try (LoopdevServer server = LoopdevServer.unix(dir, image, withPath(options, writePath))) {
                try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                    assertTrue((c.transmissionFlags() & Nbd.FLAG_READ_ONLY) != 0, "the export is read-only");
                    byte[] w = new byte[4096];
                    assertEquals(Errno.EPERM.code, c.write(0, w, false), "WRITE");
                    assertEquals(Errno.EPERM.code, c.write(MiB, w, true), "FUA WRITE");
                    assertEquals(Errno.EPERM.code, c.call(0, Nbd.CMD_TRIM, 0, 4096, null).error(), "TRIM");
                    assertEquals(Errno.EPERM.code, c.call(0, Nbd.CMD_WRITE_ZEROES, 0, 4096, null).error(),
                            "WRITE_ZEROES");
                    assertEquals(Errno.EPERM.code, c.call(Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_WRITE_ZEROES, 8192,
                            4096, null).error(), "WRITE_ZEROES NO_HOLE");
                    assertEquals(0, c.flush(), "FLUSH of a read-only export");
                    assertArrayEquals(Images.slice(before, MiB, 65536), c.read(MiB, 65536), "READ");
                }
                Nbdsh.ok(server, """
                        assert h.is_read_only()
                        fails({"EPERM"}, "pwrite", h.pwrite, b"x" * 512, 0)
                        fails({"EPERM"}, "zero", h.zero, 512, 0)
                        fails({"EPERM"}, "trim", h.trim, 512, 0)
                        alive()
                        """);
                server.stop();
            }
        }
        Images.assertSameBytes(before, Images.readAll(image), "the file after the writes and the stop");
        assertEquals(mtime, Files.getLastModifiedTime(image), "the file's mtime");
    }

    /**
     * An immutable file cannot be opened for writing even by root, and the open fails with EPERM, not EACCES or
     * EROFS: like losetup (which fails with "Operation not permitted"), serve refuses it unless asked for
     * {@code --read-only}, with one line naming the file, rather than guessing.
     */
    @org.junit.jupiter.api.Test
    void anImmutableFileNeedsReadOnlyAsWithLosetup() {
        Path image = Images.random(dir, "disk.img", MiB, 72);
        Tools.ok("chattr", "+i", image.toString());
        immutable = image;
        Tools.Result r = LoopdevServer.cli("serve", image.toString(), "--unix", dir.resolve("s").toString());
        assertEquals(1, r.exitCode(), r.describe());
        assertTrue(r.stderr().contains(image + ": Operation not permitted"), r.describe());
    }

    private static String[] withPath(String[] options, String writePath) {
        String[] all = java.util.Arrays.copyOf(options, options.length + 2);
        all[options.length] = "--write-path";
        all[options.length + 1] = writePath;
        return all;
    }
}

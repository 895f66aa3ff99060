package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Nbdfuse;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A real filesystem on the export: nbdfuse turns the export into a file, losetup turns that into a kernel block
 * device, mkfs.ext4 and mount put ext4 on it, files are written and synced; after teardown e2fsck finds the image
 * clean and the kernel's own loop driver reads the same files back from the plain image.
 */
class Ext4OverNbdfuseIT {
    private static final long IMAGE_BYTES = 64 << 20;
    private static final Duration MOUNT_TIMEOUT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    /** Teardown steps, run last-first whatever happens, as the kernel's own unwinding would. */
    private final List<Runnable> undo = new ArrayList<>();

    @BeforeAll
    static void tools() {
        Tools.require("nbdfuse", "fusermount3", "losetup", "mkfs.ext4", "e2fsck", "mount", "umount", "sync");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void ext4OnTheExportIsCleanAndReadable(Variant v) throws IOException {
        Path image = Images.sparse(dir, "disk.img", IMAGE_BYTES);
        List<Path> files;
        try (LoopdevServer server = LoopdevServer.unix(dir, image, v.options(dir))) {
            try {
                Path fuseFile = nbdfuse(server.uri());
                String loop = Tools.ok("losetup", "-f", "--show", fuseFile.toString()).stdout().trim();
                undo.add(() -> Tools.ok("losetup", "-d", loop));
                Tools.ok(Duration.ofSeconds(60), "mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,nodiscard", loop);
                Path fs = mount(loop, "rw");
                files = writeFiles(fs);
                Tools.ok("sync");
                unwind(); // umount, losetup -d, fusermount3 -u: all must succeed before the server stops
            } finally {
                unwindQuietly();
            }
            server.stop();
        }
        Path plain = v.xor() ? decoded(image) : image;
        Tools.ok(Duration.ofSeconds(60), "e2fsck", "-f", "-n", plain.toString());
        try {
            Path fs = mount(plain.toString(), "ro,loop,noload");
            assertFilesIntact(fs, files);
        } finally {
            unwindQuietly();
        }
    }

    /** Starts nbdfuse on the export; returns the file it serves once it is ready. */
    private Path nbdfuse(String uri) throws IOException {
        Nbdfuse n = Nbdfuse.start(dir, dir.resolve("fuse"), uri);
        undo.add(n::close);
        undo.add(() -> {
            try {
                n.unmount();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        });
        Path file = n.file();
        assertTrue(Files.size(file) == IMAGE_BYTES, "nbdfuse file size " + Files.size(file));
        return file;
    }

    private Path mount(String device, String options) throws IOException {
        Path fs = Files.createTempDirectory(dir, "fs");
        Tools.ok(MOUNT_TIMEOUT, "mount", "-t", "ext4", "-o", options, device, fs.toString());
        undo.add(() -> Tools.ok(MOUNT_TIMEOUT, "umount", fs.toString()));
        return fs;
    }

    /** Seeded files of assorted sizes, one larger than the page cache's write-back batch, in a subdirectory too. */
    private static List<Path> writeFiles(Path fs) throws IOException {
        Random r = new Random(31);
        List<Path> names = new ArrayList<>();
        Files.createDirectory(fs.resolve("sub"));
        int[] sizes = {0, 1, 511, 4096, 100_000, 3 << 20, 9 << 20};
        for (int i = 0; i < sizes.length; i++) {
            Path rel = Path.of(i % 2 == 0 ? "" : "sub", "file" + i);
            byte[] data = new byte[sizes[i]];
            r.nextBytes(data);
            Files.write(fs.resolve(rel.toString()), data);
            Files.write(fs.resolve(rel + ".sum"), sum(data));
            names.add(rel);
        }
        return names;
    }

    private static void assertFilesIntact(Path fs, List<Path> files) throws IOException {
        for (Path rel : files) {
            byte[] data = Files.readAllBytes(fs.resolve(rel.toString()));
            byte[] want = Files.readAllBytes(fs.resolve(rel + ".sum"));
            assertTrue(java.util.Arrays.equals(want, sum(data)), rel + " differs from what was written");
        }
    }

    private static byte[] sum(byte[] data) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(data);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The plain image behind an XOR-encoded one, decoded with the test's own oracle. */
    private Path decoded(Path image) {
        return Images.write(dir.resolve("plain.img"), Images.xor(Images.readAll(image), 0, Variant.KEY));
    }

    /** Undoes every step, newest first; the first failure fails the test after the rest were still undone. */
    private void unwind() {
        AssertionError first = null;
        while (!undo.isEmpty()) {
            try {
                undo.remove(undo.size() - 1).run();
            } catch (AssertionError | RuntimeException e) {
                if (first == null) {
                    first = e instanceof AssertionError a ? a : new AssertionError(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private void unwindQuietly() {
        try {
            unwind();
        } catch (AssertionError ignored) {
            // already failing: the original failure is the one to report
        }
    }
}

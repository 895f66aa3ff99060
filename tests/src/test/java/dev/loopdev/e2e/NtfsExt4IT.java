package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The scenario loop.c's page-cache write path was written for: an ext4 image that lives on NTFS. An NTFS volume
 * is made in a file (mkntfs) and mounted with ntfs-3g; the image is created on it and attached by loopdev, through
 * its own FUSE file or through {@code loopdev serve} and nbdfuse; the kernel loop driver attaches that file and
 * ext4 is made, mounted and filled on it. With everything torn down, e2fsck and debugfs read the image on NTFS
 * directly (decoded first under XOR) and find it clean and every file intact.
 */
class NtfsExt4IT {
    private static final long VOLUME_BYTES = 200L << 20;
    private static final long IMAGE_BYTES = 48L << 20;

    @TempDir
    static Path shared;
    static Path ntfs;

    @TempDir
    Path dir;

    enum Frontend { FUSE, NBDFUSE }

    record Case(Frontend frontend, String writePath, boolean xor) {
        @Override
        public String toString() {
            return frontend.name().toLowerCase() + " " + writePath + (xor ? " xor" : "");
        }
    }

    static Stream<Case> cases() {
        Stream.Builder<Case> b = Stream.builder();
        for (Frontend f : Frontend.values()) {
            for (String path : new String[] {"positional", "auto"}) {
                b.add(new Case(f, path, false));
                b.add(new Case(f, path, true));
            }
        }
        return b.build();
    }

    @BeforeAll
    static void mountNtfs() throws IOException {
        Tools.require("mkntfs", "ntfs-3g", "nbdfuse");
        Tools.require(FuseStack.tools().toArray(String[]::new));
        Path volume = shared.resolve("ntfs.vol");
        try (RandomAccessFile f = new RandomAccessFile(volume.toFile(), "rw")) {
            f.setLength(VOLUME_BYTES);
        }
        Tools.ok("mkntfs", "-F", "-Q", "-q", "-L", "loopdev", volume.toString());
        ntfs = Files.createDirectory(shared.resolve("ntfs"));
        Tools.ok("ntfs-3g", volume.toString(), ntfs.toString());
        String type = Tools.ok("findmnt", "-n", "-o", "FSTYPE", ntfs.toString()).stdout().trim();
        assertTrue(type.equals("fuse") || type.equals("fuseblk"), "ntfs-3g mounted " + ntfs + " as " + type);
    }

    @AfterAll
    static void unmountNtfs() {
        if (ntfs != null && Tools.isMountPoint(ntfs)) {
            Tools.ok("umount", ntfs.toString());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    @Timeout(180)
    void ext4OnAnImageOnNtfs(Case c) throws IOException {
        Path image = ntfs.resolve("ext4-" + c.toString().replace(' ', '-') + ".img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(IMAGE_BYTES);
        }
        try {
            Map<String, String> files;
            Path mnt = dir.resolve("fuse");
            try (FuseCleanup undo = new FuseCleanup()) {
                String[] options = FuseStack.deviceOptions(dir, c.writePath(), c.xor());
                LoopdevServer p = c.frontend() == Frontend.FUSE
                        ? FuseStack.fuse(undo, dir, image, mnt, options)
                        : FuseStack.nbdfuse(undo, dir, image, mnt, options);
                // ntfs-3g supports shared mmap, so auto takes the mapped path here.
                String expected = c.writePath().equals("auto") ? "mapped" : c.writePath();
                String said = c.frontend() == Frontend.FUSE ? p.firstLine() : p.stderr();
                assertTrue(said.contains(expected + " write path"), () -> "expected the " + expected
                        + " write path\n" + p.firstLine() + "\n" + p.stderr());
                files = FuseExt4.fill(mnt.resolve("disk"), dir.resolve("ext4"), c.toString().hashCode());
                undo.unwind();
            }
            assertEquals(!c.xor(), FuseExt4.hasExt4Magic(image), "an ext4 superblock in the clear iff no transform");
            Path plain = c.xor() ? FuseExt4.xorDecoded(image, FuseStack.XOR_KEY, dir.resolve("plain.img")) : image;
            FuseExt4.verify(plain, files, dir);
        } finally {
            Files.deleteIfExists(image);
        }
    }
}

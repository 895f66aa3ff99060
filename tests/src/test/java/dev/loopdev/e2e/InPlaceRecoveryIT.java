package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An in-place conversion never gets stuck, and a half-converted image is never served: a full disk while the journal
 * is created leaves nothing in the way; a full disk in the middle leaves a journal that a rerun finishes, and until
 * then serve and fuse refuse the image, saying how to finish or roll back; an empty or torn journal from before any
 * data moved is started again by itself.
 */
class InPlaceRecoveryIT {
    private static final int MiB = 1 << 20;

    @TempDir
    Path dir;

    private Path fs;

    @AfterEach
    void unmount() {
        if (fs != null) {
            Tools.run("umount", fs.toString());
        }
    }

    /** A small tmpfs with a 3 MiB random image on it. */
    private Path imageOnTmpfs() throws IOException {
        fs = Files.createDirectory(dir.resolve("fs"));
        Tools.ok("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", fs.toString());
        return Images.random(fs, "disk.img", 3 * MiB, 31);
    }

    /** Fills the file system but for {@code leaveBytes}. */
    private Path fill(long leaveBytes) throws IOException {
        Path filler = fs.resolve("filler");
        long free = Files.getFileStore(fs).getUsableSpace();
        try (RandomAccessFile f = new RandomAccessFile(filler.toFile(), "rw")) {
            byte[] block = new byte[4096];
            for (long n = 0; n < free - leaveBytes; n += block.length) {
                f.write(block);
            }
        } catch (IOException full) {
            // leaveBytes 0: the file system is now full, as wanted
        }
        return filler;
    }

    private String[] encrypt(Path image, Path key) {
        return new String[] {"encrypt", image.toString(), "--in-place", "--transform", "xor", "--key-file",
            key.toString()};
    }

    @Test
    void fullDiskWhileTheJournalIsCreatedLeavesNothingInTheWay() throws IOException {
        Path image = imageOnTmpfs();
        byte[] plain = Images.readAll(image);
        Path key = Images.keyFile(dir, Variant.KEY);
        Path filler = fill(0);
        Path journal = fs.resolve("disk.img.loopdev-journal");
        Tools.Result r = LoopdevServer.cli(encrypt(image, key));
        assertEquals(1, r.exitCode(), r::describe);
        assertEquals("loopdev: " + journal + ": No space left on device", r.stderr().strip(), r::describe);
        assertFalse(Files.exists(journal), "the journal stayed behind");
        assertArrayEquals(plain, Images.readAll(image));
        Files.delete(filler);
        LoopdevServer.cli(encrypt(image, key)).ok();
        assertArrayEquals(Images.xor(plain, 0, Variant.KEY), Images.readAll(image));
    }

    @Test
    void fullDiskMidwayIsRefusedByServeAndFuseThenFinished() throws IOException {
        Path image = imageOnTmpfs();
        byte[] plain = Images.readAll(image);
        Path key = Images.keyFile(dir, Variant.KEY);
        Path filler = fill(3 * MiB / 2); // room for the journal's header and one chunk's slot, not the second slot
        Path journal = fs.resolve("disk.img.loopdev-journal");
        Tools.Result r = LoopdevServer.cli(encrypt(image, key));
        assertEquals(1, r.exitCode(), r::describe);
        assertTrue(r.stderr().strip().endsWith("\nloopdev: " + journal + ": No space left on device; the conversion is "
                + "interrupted, " + image + " part converted: run the same command again, with the same key, to "
                + "finish it"), r::describe);
        assertFalse(r.stderr().contains("\tat "), r::describe);

        String refusal = "loopdev: " + image + ": an in-place conversion was interrupted (encrypt offset=0 xor";
        Tools.Result serve = LoopdevServer.cli("serve", image.toString(), "--unix", dir.resolve("s").toString());
        assertEquals(1, serve.exitCode(), serve::describe);
        assertTrue(serve.stderr().startsWith(refusal) && serve.stderr().contains("journal " + journal)
                && serve.stderr().contains("finish it with the same 'loopdev encrypt " + image + " --in-place' "
                + "command and key; to roll back, finish it, then run 'loopdev decrypt --in-place' with them"),
                serve::describe);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Tools.Result fuse = LoopdevServer.cli("fuse", image.toString(), mnt.toString());
        assertEquals(1, fuse.exitCode(), fuse::describe);
        assertTrue(fuse.stderr().startsWith(refusal), fuse::describe);

        Files.delete(filler);
        LoopdevServer.cli(encrypt(image, key)).ok();
        assertFalse(Files.exists(journal));
        assertArrayEquals(Images.xor(plain, 0, Variant.KEY), Images.readAll(image));
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--transform", "xor", "--key-file",
                key.toString())) {
            Path out = dir.resolve("out.img");
            Tools.ok("nbdcopy", server.uri(), out.toString());
            assertArrayEquals(plain, Images.readAll(out));
            server.stop();
        }
    }

    /** A journal left empty or torn before any chunk moved (a crash while it was written) is started again. */
    @Test
    void emptyOrTornJournalIsStartedAgain() throws IOException {
        Path key = Images.keyFile(dir, Variant.KEY);
        for (String left : new String[] {"", "loopdev-conversion-jour"}) {
            Path image = Images.random(dir, "disk.img", 3 * MiB, 32);
            byte[] plain = Images.readAll(image);
            Path journal = Files.writeString(dir.resolve("disk.img.loopdev-journal"), left);
            Tools.Result r = LoopdevServer.cli(encrypt(image, key)).ok();
            assertTrue(r.stderr().contains("loopdev: " + journal + ": left before any data was converted; starting "
                    + "again"), r::describe);
            assertFalse(Files.exists(journal));
            assertArrayEquals(Images.xor(plain, 0, Variant.KEY), Images.readAll(image));
            Files.delete(image);
        }
    }

    /**
     * A journal marked complete (a crash between the end of the conversion and the journal's removal; the mark is
     * the last 8 bytes of its 4 KiB header) is removed, and the image is not converted a second time.
     */
    @Test
    void completedJournalDoesNotConvertTwice() throws IOException {
        Path key = Images.keyFile(dir, Variant.KEY);
        Path image = Images.random(dir, "disk.img", 2 * MiB, 33);
        byte[] before = Images.readAll(image);
        byte[] header = new byte[4096];
        byte[] mark = "complete".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(mark, 0, header, header.length - mark.length, mark.length);
        Path journal = Files.write(dir.resolve("disk.img.loopdev-journal"), header);
        Tools.Result r = LoopdevServer.cli(encrypt(image, key));
        assertEquals(1, r.exitCode(), r::describe);
        assertTrue(r.stderr().contains("this conversion had already completed"), r::describe);
        assertFalse(Files.exists(journal));
        assertArrayEquals(before, Images.readAll(image));
    }
}

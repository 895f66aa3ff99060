package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A sparse image on a file system that fills up: every write either is acknowledged and then reads back, or fails
 * with ENOSPC; the device goes on serving. On the mapped path this is what the prepare step is for: without it a
 * store into a hole of a full file system is dropped silently on JDK 17. Needs root, to mount a small tmpfs.
 */
class FullFileSystemTest {
    @TempDir
    Path dir;
    private SmallTmpfs tmpfs;
    private Path mnt;

    @BeforeEach
    void mountSmallTmpfs() throws Exception {
        tmpfs = new SmallTmpfs(dir);
        mnt = tmpfs.dir;
    }

    @AfterEach
    void unmount() throws Exception {
        tmpfs.close();
    }

    @ParameterizedTest
    @EnumSource(value = WritePathKind.class, names = {"MAPPED", "POSITIONAL"})
    void writesGetEnospcAndNothingAcknowledgedIsLost(WritePathKind kind) throws IOException {
        Path img = mnt.resolve("sparse.img");
        try (RandomAccessFile raf = new RandomAccessFile(img.toFile(), "rw")) {
            raf.setLength(16 << 20);
        }
        fillUntilFull(kind, img, 0);
    }

    /**
     * The image already holds data here and there (the mapped path learns those pages' blocks exist from the
     * extent map and does not reserve them again): the holes between must still be reserved before any copy, and
     * the data chunks, whose blocks exist, must take writes even when the file system is full.
     */
    @ParameterizedTest
    @EnumSource(value = WritePathKind.class, names = {"MAPPED", "POSITIONAL"})
    void dataAmongHolesStillReservesTheHoles(WritePathKind kind) throws IOException {
        Path img = mnt.resolve("patchy.img");
        int chunk = 64 * 1024;
        try (RandomAccessFile raf = new RandomAccessFile(img.toFile(), "rw")) {
            raf.setLength(16 << 20);
            byte[] some = new byte[chunk];
            java.util.Arrays.fill(some, (byte) 0x5a);
            for (int i = 0; i < 16; i += 2) { // 8 data chunks, 512 KiB of the 2 MiB file system
                raf.seek((long) i * 4 * chunk + chunk / 2); // unaligned: partial pages at both ends
                raf.write(some);
            }
        }
        int enospc = fillUntilFull(kind, img, 1);
        assertTrue(enospc > 0, "the holes overflow the file system");
    }

    /** Writes 64 KiB chunks over the whole image: each is acknowledged and then reads back, or gets ENOSPC. */
    private static int fillUntilFull(WritePathKind kind, Path img, long seed) throws IOException {
        Random rnd = new Random(11 + seed);
        int chunk = 64 * 1024;
        List<byte[]> acked = new ArrayList<>();
        int enospc = 0;
        try (LoopDevice dev = LoopDevice.open(LoopConfig.of(img).withWritePath(kind))) {
            assertEquals(kind, dev.writePath());
            for (int i = 0; i < 16 * 16; i++) {
                byte[] data = new byte[chunk];
                rnd.nextBytes(data);
                try {
                    dev.write(ByteBuffer.wrap(data), (long) i * chunk, false);
                    acked.add(data);
                } catch (BlockDeviceException e) {
                    assertEquals(Errno.ENOSPC, e.errno(), e.getMessage());
                    acked.add(null);
                    enospc++;
                }
            }
            assertTrue(enospc > 0, "a 2 MiB file system cannot hold 16 MiB");
            assertTrue(acked.stream().filter(a -> a != null).count() >= 16, "some writes fit");
            dev.flush();
            for (int i = 0; i < acked.size(); i++) {
                if (acked.get(i) != null) {
                    ByteBuffer back = ByteBuffer.allocate(chunk);
                    dev.read(back, (long) i * chunk);
                    assertArrayEquals(acked.get(i), back.array(), "chunk " + i + " was acknowledged");
                }
            }
        }
        // And from the file itself, after the device is gone.
        byte[] file = Files.readAllBytes(img);
        for (int i = 0; i < acked.size(); i++) {
            if (acked.get(i) != null) {
                byte[] got = java.util.Arrays.copyOfRange(file, i * chunk, (i + 1) * chunk);
                assertArrayEquals(acked.get(i), got, "chunk " + i + " in the file");
            }
        }
        return enospc;
    }
}

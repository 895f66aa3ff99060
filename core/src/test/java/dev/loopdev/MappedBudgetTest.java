package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mapped path over an image far larger than its budget: a 1 TiB sparse file on a 64 MiB tmpfs, read and
 * written at random all over. Only the budget's windows are ever mapped, the rest goes positionally, and reading
 * holes allocates nothing (through a shared mapping tmpfs would keep a zeroed page per hole read, and this tmpfs
 * would be full after 16,384 of them). Needs root, to mount the tmpfs.
 */
class MappedBudgetTest {
    private static final long IMAGE_BYTES = 1L << 40;
    private static final long WINDOW_BYTES = 4L << 20;
    private static final long BUDGET_BYTES = 4 * WINDOW_BYTES;

    @TempDir
    Path dir;
    private Path mnt;

    @BeforeEach
    void mountSmallTmpfs() throws Exception {
        mnt = Files.createDirectory(dir.resolve("small"));
        run("mount", "-t", "tmpfs", "-o", "size=64m", "loopdev-budget", mnt.toString());
    }

    @AfterEach
    void unmount() throws Exception {
        run("umount", "-l", mnt.toString());
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + " (this test needs root): " + out);
        return out;
    }

    @Test
    void randomIoOverAHugeSparseImageMapsOnlyTheBudgetAndReadsOfHolesAllocateNothing() throws Exception {
        Path img = mnt.resolve("huge.img");
        try (RandomAccessFile raf = new RandomAccessFile(img.toFile(), "rw")) {
            raf.setLength(IMAGE_BYTES);
        }
        Random r = new Random(12);
        Map<Long, byte[]> written = new HashMap<>();
        try (LoopDevice dev = LoopDevice.open(LoopConfig.of(img).withWritePath(WritePathKind.MAPPED),
                MappedPages.DEFAULT_PAGE_SIZE, WINDOW_BYTES, BUDGET_BYTES)) {
            ByteBuffer page = ByteBuffer.allocateDirect(4096);
            for (int i = 0; i < 20_000; i++) {
                long at = (r.nextLong() >>> 1) % (IMAGE_BYTES / 4096) * 4096;
                dev.read(page.clear(), at);
                assertTrue(isZero(page.flip()), "a hole at " + at + " reads as zeros");
            }
            assertEquals(0, allocatedBytes(img), "bytes allocated by 20,000 reads of holes");

            for (int i = 0; i < 2_000; i++) {
                long at = i < 500 ? r.nextInt((int) (BUDGET_BYTES / 4096)) * 4096L  // some where windows are mapped
                        : (r.nextLong() >>> 1) % (IMAGE_BYTES / 4096) * 4096;
                byte[] data = new byte[4096];
                r.nextBytes(data);
                dev.write(ByteBuffer.wrap(data), at, r.nextInt(10) == 0);
                written.put(at, data);
            }
            dev.flush();
            for (Map.Entry<Long, byte[]> e : written.entrySet()) {
                dev.read(page.clear(), e.getKey());
                byte[] back = new byte[4096];
                page.flip().get(back);
                assertArrayEquals(e.getValue(), back, "written at " + e.getKey());
            }
            long allocated = allocatedBytes(img);
            assertTrue(allocated >= written.size() * 4096L && allocated <= written.size() * 4096L + (1 << 20),
                    allocated + " bytes allocated for " + written.size() + " pages written");
            long mappings = Files.readAllLines(Path.of("/proc/self/maps")).stream()
                    .filter(l -> l.endsWith(img.toString())).count();
            // the windows, and the one page auto mode's probe maps (until the collector takes it)
            assertTrue(mappings <= BUDGET_BYTES / WINDOW_BYTES + 1, mappings + " mappings of the image");
        }
        try (RandomAccessFile raf = new RandomAccessFile(img.toFile(), "r")) {
            for (Map.Entry<Long, byte[]> e : written.entrySet()) {
                byte[] back = new byte[4096];
                raf.seek(e.getKey());
                raf.readFully(back);
                assertArrayEquals(e.getValue(), back, "in the file at " + e.getKey());
            }
        }
    }

    private static boolean isZero(ByteBuffer b) {
        while (b.hasRemaining()) {
            if (b.get() != 0) {
                return false;
            }
        }
        return true;
    }

    /** st_blocks of the file, in bytes. */
    private static long allocatedBytes(Path f) throws Exception {
        return Long.parseLong(run("stat", "-c", "%b", f.toString()).trim()) * 512;
    }
}

package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * FLUSH and FUA leave nothing of what they cover in the page cache unwritten: the kernel's own count of the
 * file's dirty and under-writeback pages (cachestat, Linux 6.5+) is zero afterwards, on both write paths. The
 * crash tests kill the process, which keeps the page cache; this is the part they cannot see. The image lives on
 * a file system with writeback (/var/tmp; tmpfs has nothing to write back).
 */
class FlushDurabilityTest {
    private static final long SIZE = 16 << 20;
    private Path image;

    interface Libc extends Library {
        Libc C = Native.load("c", Libc.class);

        long syscall(long number, Object... args);
    }

    @BeforeEach
    void makeImage() throws IOException {
        image = Files.createTempFile(Path.of("/var/tmp"), "loopdev-flush", ".img");
        String type = Files.getFileStore(image).type();
        assertNotEquals("tmpfs", type, "/var/tmp must be on a file system with writeback");
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(SIZE);
        }
    }

    @AfterEach
    void removeImage() throws IOException {
        Files.deleteIfExists(image);
    }

    /** Pages of {@code [off, off + len)} of the file that are dirty or under writeback. */
    private long unwritten(long off, long len) throws IOException {
        int fd = Posix.open(image.toString(), Posix.O_RDONLY | Posix.O_CLOEXEC);
        try {
            Memory range = new Memory(16);
            range.setLong(0, off);
            range.setLong(8, len);
            Memory stat = new Memory(40);
            stat.clear();
            long r = Libc.C.syscall(451 /* cachestat, x86-64 */, fd, range, stat, 0);
            assertEquals(0, r, "cachestat (Linux 6.5+) failed: errno " + Native.getLastError());
            return stat.getLong(8) + stat.getLong(16); // nr_dirty + nr_writeback
        } finally {
            Posix.close(fd);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"MAPPED, none", "MAPPED, xor", "POSITIONAL, none", "POSITIONAL, xor"})
    void flushAndFuaLeaveNothingDirty(WritePathKind kind, String transform) throws IOException {
        Transform t = transform.equals("xor") ? new XorTransform("flush".getBytes()) : Transform.NONE;
        byte[] data = new byte[8 << 20];
        new Random(kind.ordinal()).nextBytes(data);
        try (LoopDevice dev = LoopDevice.open(LoopConfig.of(image).withWritePath(kind).withTransform(t))) {
            assertEquals(kind, dev.writePath());
            dev.write(ByteBuffer.wrap(data), 0, false);
            assertTrue(unwritten(0, SIZE) > 0, "a plain write stays in the page cache until a flush");
            dev.flush();
            assertEquals(0, unwritten(0, SIZE), "after FLUSH nothing written is left in the page cache");

            dev.write(ByteBuffer.wrap(data, 0, 1 << 20), 9 << 20, false);
            dev.write(ByteBuffer.wrap(data, 0, 1 << 20), 12 << 20, true);
            assertEquals(0, unwritten(12 << 20, 1 << 20), "a FUA write is written back before it returns");
            if (kind == WritePathKind.MAPPED) {
                // msync of the range; the positional path's FUA is fdatasync of the whole file, which may not
                assertTrue(unwritten(9 << 20, 1 << 20) > 0, "FUA writes back its own range, not the file");
            }
            dev.flush();
            assertEquals(0, unwritten(0, SIZE));
            // The mapped path unmapped what it flushed: writing there again must still work and be counted.
            dev.write(ByteBuffer.wrap(data, 0, 4096), 0, false);
            assertTrue(unwritten(0, 4096) > 0, "a write after a flush dirties the page again");
            dev.flush();
            assertEquals(0, unwritten(0, SIZE));
        }
    }
}

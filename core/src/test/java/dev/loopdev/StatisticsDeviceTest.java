package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatisticsDeviceTest {
    @TempDir
    Path dir;

    @Test
    void countsRequestsBytesAndErrors() throws Exception {
        Path f = dir.resolve("s.img");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(1 << 20);
        }
        try (StatisticsDevice dev = new StatisticsDevice(LoopDevice.open(LoopConfig.of(f).withReadOnly(true)))) {
            dev.read(ByteBuffer.allocate(4096), 0);
            dev.read(ByteBuffer.allocate(100), 5);
            assertThrows(BlockDeviceException.class, () -> dev.write(ByteBuffer.allocate(512), 0, false));
            assertEquals(2, dev.requests(StatisticsDevice.Op.READ));
            assertEquals(4196, dev.bytes(StatisticsDevice.Op.READ));
            assertEquals(1, dev.requests(StatisticsDevice.Op.WRITE));
            assertEquals(1, dev.errors(StatisticsDevice.Op.WRITE));
            assertEquals(0, dev.bytes(StatisticsDevice.Op.WRITE));
            String report = dev.report();
            assertTrue(report.contains("read:   2 ops, 0 errors, 4196 bytes"), report);
            assertTrue(report.contains("write:  1 ops, 1 errors"), report);
        }
    }
}

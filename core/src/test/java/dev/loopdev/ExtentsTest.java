package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExtentsTest {
    @TempDir
    Path dir;

    @Test
    void holesAndDataFollowTheBackingFile() throws Exception {
        Path f = dir.resolve("sparse.img");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(1 << 20);
        }
        try (LoopDevice dev = LoopDevice.open(LoopConfig.of(f).withOffset(64 * 1024).withSizeLimit(512 * 1024))) {
            byte[] data = new byte[64 * 1024];
            java.util.Arrays.fill(data, (byte) 1);
            dev.write(ByteBuffer.wrap(data), 128 * 1024, false);
            List<Extent> ex = dev.extents(0, dev.size());
            assertEquals(List.of(new Extent(0, 128 * 1024, true, true),
                    new Extent(128 * 1024, 64 * 1024, false, false),
                    new Extent(192 * 1024, 320 * 1024, true, true)), ex);
            dev.trim(128 * 1024, 64 * 1024, false);
            assertEquals(List.of(new Extent(0, 512 * 1024, true, true)), dev.extents(0, dev.size()));
            // A range that starts inside data
            dev.write(ByteBuffer.wrap(data), 0, false);
            assertEquals(new Extent(4096, 60 * 1024, false, false), dev.extents(4096, 100 * 1024).get(0));
        }
    }

    @Test
    void withATransformEverythingIsData() throws Exception {
        Path f = dir.resolve("enc.img");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(1 << 20);
        }
        try (LoopDevice dev = LoopDevice.open(LoopConfig.of(f).withTransform(new XorTransform(new byte[] {9})))) {
            List<Extent> ex = dev.extents(0, dev.size());
            assertEquals(1, ex.size());
            assertTrue(!ex.get(0).hole() && !ex.get(0).zero());
        }
    }
}

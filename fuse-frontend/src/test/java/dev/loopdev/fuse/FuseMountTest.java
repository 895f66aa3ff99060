package dev.loopdev.fuse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Mounts a device in this JVM and drives the file with seeded random reads and writes of every size up to a few
 * requests' worth, against a model of the bytes; then the image must equal the model. Needs /dev/fuse and root,
 * as the end-to-end tests do.
 */
class FuseMountTest {
    private static final int SIZE = 4 << 20;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "direct_io={0} single-threaded={1}")
    @CsvSource({"true,true", "true,false", "false,true", "false,false"})
    @Timeout(60)
    void randomReadsAndWritesMatchAModel(boolean directIo, boolean singleThreaded) throws IOException {
        Path image = dir.resolve("image");
        byte[] model = new byte[SIZE];
        Random random = new Random(directIo ? 11 : 12);
        random.nextBytes(model);
        Files.write(image, model);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        FuseOptions options = FuseOptions.defaults().withDirectIo(directIo).withSingleThreaded(singleThreaded);
        try (LoopDevice device = LoopDevice.open(LoopConfig.of(image));
             FuseMount mount = FuseMount.mount(device, mnt, options)) {
            assertEquals(mnt.resolve("disk"), mount.file());
            assertEquals(SIZE, Files.size(mount.file()));
            try (FileChannel ch = FileChannel.open(mount.file(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                for (int i = 0; i < 200; i++) {
                    int len = 1 + random.nextInt(random.nextBoolean() ? 4096 : 400_000);
                    int off = random.nextInt(SIZE - len + 1);
                    if (random.nextBoolean()) {
                        byte[] data = new byte[len];
                        random.nextBytes(data);
                        writeFully(ch, ByteBuffer.wrap(data), off);
                        System.arraycopy(data, 0, model, off, len);
                    } else {
                        ByteBuffer got = ByteBuffer.allocate(len);
                        while (got.hasRemaining() && ch.read(got, off + got.position()) > 0) {
                            // until full
                        }
                        assertArrayEquals(java.util.Arrays.copyOfRange(model, off, off + len), got.array(),
                                "read of " + len + " at " + off);
                    }
                }
                ch.force(false);
                assertThrows(IOException.class, () -> ch.write(ByteBuffer.allocate(1), SIZE),
                        "a write past the end of the device");
                assertEquals(-1, ch.read(ByteBuffer.allocate(1), SIZE), "a read at the end: EOF");
            }
            mount.close();
            assertFalse(mount.isMounted());
        }
        assertArrayEquals(model, Files.readAllBytes(image));
    }

    private static void writeFully(FileChannel ch, ByteBuffer b, long off) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.write(b, off + b.position());
            assertTrue(n > 0);
        }
    }
}

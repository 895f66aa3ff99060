package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The positional write path, proven where it is the only one: on a backing file that cannot be memory-mapped.
 * loopdev's own FUSE file is opened with direct_io, and the kernel refuses a shared mapping of such a file
 * (ENODEV). So a first loopdev exposes an image as FUSE file A; a second loopdev, with {@code --write-path auto},
 * attaches A and must choose positional writes (and say so); ext4 made through the second one's file B with the
 * kernel loop driver must come out clean in the image under both.
 */
class FusePositionalFallbackIT {
    private static final long IMAGE_BYTES = 48L << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Tools.require(FuseStack.tools().toArray(String[]::new));
    }

    @ParameterizedTest(name = "xor on top: {0}")
    @ValueSource(booleans = {false, true})
    @Timeout(120)
    void autoChoosesPositionalOnAnUnmappableFile(boolean xor) throws IOException {
        Path image = dir.resolve("image");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(IMAGE_BYTES);
        }
        Path lower = dir.resolve("lower");
        Path upper = dir.resolve("upper");
        Map<String, String> files;
        try (FuseCleanup undo = new FuseCleanup()) {
            LoopdevServer first = FuseStack.fuse(undo, dir, image, lower);
            assertTrue(first.firstLine().contains("mapped write path"), first.firstLine());
            assertUnmappable(lower.resolve("disk"));

            LoopdevServer second = FuseStack.fuse(undo, dir, lower.resolve("disk"), upper,
                    FuseStack.deviceOptions(dir, "auto", xor));
            assertTrue(second.firstLine().contains("positional write path"), () -> second.firstLine() + "\n"
                    + second.stderr());
            assertTrue(second.stderr().contains("cannot be memory-mapped: using positional writes"), second.stderr());

            files = FuseExt4.fill(upper.resolve("disk"), dir.resolve("ext4"), 0x5eed + (xor ? 1 : 0));
            undo.unwind();
        }
        assertEquals(!xor, FuseExt4.hasExt4Magic(image));
        Path plain = xor ? FuseExt4.xorDecoded(image, FuseStack.XOR_KEY, dir.resolve("plain")) : image;
        FuseExt4.verify(plain, files, dir);
    }

    /** The fixture's premise, checked rather than assumed: a shared mapping of the direct_io file fails. */
    private static void assertUnmappable(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ch.map(FileChannel.MapMode.READ_WRITE, 0, 4096);
            throw new AssertionError(file + " could be memory-mapped: the fixture does not exercise the fallback");
        } catch (FileSystemException e) {
            throw e;
        } catch (IOException e) {
            assertTrue(String.valueOf(e.getMessage()).contains("No such device"), e.toString());
        }
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The device file as programs see it: dd, cmp, qemu-img, stat, truncate and fallocate against
 * {@code loopdev fuse}, and the image checked afterwards with loopdev gone.
 */
class FuseFileIT {
    private static final int IMAGE_BYTES = 8 << 20;
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Tools.require("dd", "cmp", "qemu-img", "stat", "truncate", "fallocate", "fusermount", "kill");
    }

    private Path image(long seed) throws IOException {
        byte[] data = new byte[IMAGE_BYTES];
        new Random(seed).nextBytes(data);
        return Files.write(dir.resolve("image"), data);
    }

    @ParameterizedTest(name = "xor: {0}")
    @ValueSource(booleans = {false, true})
    void ddWritesAndReadsBackThroughTheFile(boolean xor) throws IOException {
        Path image = image(1);
        Path mnt = dir.resolve("mnt");
        byte[] src = new byte[3 * MIB + 4321];
        new Random(2).nextBytes(src);
        Path srcFile = Files.write(dir.resolve("src"), src);
        byte[] before = Files.readAllBytes(image);
        try (FuseCleanup undo = new FuseCleanup()) {
            FuseStack.fuse(undo, dir, image, mnt, FuseStack.deviceOptions(dir, "auto", xor));
            Path disk = mnt.resolve("disk");
            assertEquals(IMAGE_BYTES, Files.size(disk));
            assertEquals("disk", Tools.ok("ls", "-A", mnt.toString()).stdout().trim());
            // Unaligned offset and length: 4321 bytes past 1 MiB + 3 sectors, with bs that is not a sector.
            Tools.ok("dd", "if=" + srcFile, "of=" + disk, "bs=65537", "seek=" + (MIB + 1536),
                    "oflag=seek_bytes", "conv=notrunc,fsync", "status=none");
            byte[] seen = Files.readAllBytes(disk);
            byte[] expected = xor ? FuseXor.decode(before) : before.clone();
            System.arraycopy(src, 0, expected, MIB + 1536, src.length);
            assertArrayEquals(expected, seen, "read back through the FUSE file");
            Tools.ok("qemu-img", "compare", "-q", "-f", "raw", "-F", "raw", disk.toString(),
                    xor ? Files.write(dir.resolve("expected"), expected).toString() : image.toString());
            undo.unwind();
            byte[] raw = Files.readAllBytes(image);
            assertArrayEquals(xor ? FuseXor.encode(expected) : expected, raw, "the image after loopdev exited");
        }
    }

    @Test
    void theSizeIsFixed() throws IOException {
        Path image = image(3);
        Path mnt = dir.resolve("mnt");
        try (FuseCleanup undo = new FuseCleanup()) {
            FuseStack.fuse(undo, dir, image, mnt, "--name", "vda");
            String disk = mnt.resolve("vda").toString();
            Tools.Result r = Tools.run("truncate", "-s", "0", disk);
            assertNotEquals(0, r.exitCode());
            assertTrue(r.stderr().contains("Operation not permitted"), r.describe());
            Tools.ok("truncate", "-s", Integer.toString(IMAGE_BYTES), disk);
            // At the end of the device a write is short, and the next one gets ENOSPC, as on a block device.
            r = Tools.run("dd", "if=/dev/zero", "of=" + disk, "bs=4096", "seek=" + (IMAGE_BYTES / 4096 - 1),
                    "count=2", "conv=notrunc");
            assertNotEquals(0, r.exitCode());
            assertTrue(r.stderr().contains("No space left on device"), r.describe());
            r = Tools.ok("dd", "if=" + disk, "of=/dev/null", "bs=4096", "skip=" + (IMAGE_BYTES / 4096 - 1));
            assertTrue(r.stderr().contains("4096 bytes"), "a read at the end is short: " + r.describe());
            r = Tools.run("fallocate", "-l", Integer.toString(IMAGE_BYTES + MIB), disk);
            assertTrue(r.stderr().contains("File too large"), r.describe());
            Tools.ok("fallocate", "-l", Integer.toString(IMAGE_BYTES), disk);
            assertEquals(Integer.toString(IMAGE_BYTES), Tools.ok("stat", "-c", "%s", disk).stdout().trim());
            undo.unwind();
        }
        byte[] raw = Files.readAllBytes(image);
        byte[] zeros = Arrays.copyOfRange(raw, IMAGE_BYTES - 4096, IMAGE_BYTES);
        assertArrayEquals(new byte[4096], zeros, "the one block that fitted was written");
    }

    @ParameterizedTest(name = "xor: {0}")
    @ValueSource(booleans = {false, true})
    void punchingAHoleOrZeroingARangeReadsAsZeros(boolean xor) throws IOException {
        Path image = image(4);
        byte[] before = Files.readAllBytes(image);
        Path mnt = dir.resolve("mnt");
        try (FuseCleanup undo = new FuseCleanup()) {
            FuseStack.fuse(undo, dir, image, mnt, FuseStack.deviceOptions(dir, "auto", xor));
            String disk = mnt.resolve("disk").toString();
            Tools.ok("fallocate", "-p", "-o", Integer.toString(MIB + 512), "-l", Integer.toString(2 * MIB), disk);
            Tools.ok("fallocate", "-z", "-o", Integer.toString(5 * MIB), "-l", "4096", disk);
            byte[] plain = xor ? FuseXor.decode(before) : before.clone();
            Arrays.fill(plain, MIB + 512, 3 * MIB + 512, (byte) 0);
            Arrays.fill(plain, 5 * MIB, 5 * MIB + 4096, (byte) 0);
            assertArrayEquals(plain, Files.readAllBytes(Path.of(disk)));
            undo.unwind();
            assertArrayEquals(xor ? FuseXor.encode(plain) : plain, Files.readAllBytes(image));
        }
    }

    @Test
    void aReadOnlyDeviceRefusesWrites() throws IOException {
        Path image = image(5);
        byte[] before = Files.readAllBytes(image);
        Path mnt = dir.resolve("mnt");
        try (FuseCleanup undo = new FuseCleanup()) {
            LoopdevServer p = FuseStack.fuse(undo, dir, image, mnt, "--read-only");
            assertTrue(p.firstLine().contains("read-only"), p.firstLine());
            String disk = mnt.resolve("disk").toString();
            assertEquals("444", Tools.ok("stat", "-c", "%a", disk).stdout().trim());
            Tools.Result r = Tools.run("dd", "if=/dev/zero", "of=" + disk, "bs=4096", "count=1",
                    "conv=notrunc");
            assertTrue(r.stderr().contains("Read-only file system"), r.describe());
            r = Tools.run("fallocate", "-p", "-o", "0", "-l", "4096", disk);
            assertTrue(r.stderr().contains("Read-only file system"), r.describe());
            Tools.ok("cmp", image.toString(), disk);
            undo.unwind();
        }
        assertArrayEquals(before, Files.readAllBytes(image));
    }
}

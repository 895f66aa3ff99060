package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;

/** Host-side checks of an ext4 image the guest wrote: e2fsck, and the guest's checksums against debugfs dumps. */
final class VmExt4 {
    private VmExt4() {
    }

    static void assertFsckClean(Path image) throws IOException, InterruptedException {
        VmGuest.Run r = VmGuest.run(Duration.ofMinutes(2), "e2fsck", "-fn", image.toString());
        assertEquals(0, r.exitCode, "e2fsck -fn " + image + " on the host:\n" + r.output);
    }

    /** {@code sums} is the guest's sha256sum output for files in the root directory of the file system. */
    static void assertChecksums(Path image, Path sums, Path scratch) throws IOException, InterruptedException {
        List<String> lines = Files.readAllLines(sums);
        assertFalse(lines.isEmpty(), sums + " is empty: the guest wrote no files");
        for (String line : lines) {
            String[] f = line.trim().split("\\s+", 2);
            Path out = scratch.resolve("dump-" + f[1]);
            VmGuest.Run r = VmGuest.run(Duration.ofMinutes(1), "debugfs", "-R", "dump /" + f[1] + " " + out,
                    image.toString());
            assertEquals(0, r.exitCode, "debugfs dump /" + f[1] + ":\n" + r.output);
            assertEquals(f[0], sha256(out), f[1] + " in " + image + " as debugfs reads it on the host");
            Files.delete(out);
        }
    }

    /** Whether the ext4 superblock magic (0xEF53 at byte 1080) is where an unencoded image has it. */
    static boolean hasExt4Magic(Path image) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(image)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(2);
            ch.read(b, 1080);
            return (b.get(0) & 0xff) == 0x53 && (b.get(1) & 0xff) == 0xef;
        }
    }

    static String sha256(Path file) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (var in = Files.newInputStream(file)) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) {
                    md.update(buf, 0, n);
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The round trip every scenario ends with: ext4 made and filled through a kernel loop device on the file under
 * test, then, with everything torn down, the image checked by tools that read it directly (e2fsck, debugfs), never
 * through loopdev.
 */
final class FuseExt4 {
    private static final Duration MKFS_TIMEOUT = Duration.ofSeconds(90);
    private static final int EXT4_MAGIC_OFFSET = 1024 + 56;
    private static final int EXT4_MAGIC = 0xEF53;

    private FuseExt4() {
    }

    /**
     * losetup on {@code deviceFile}, mkfs.ext4 (which discards first: fallocate punch-hole through FUSE), mount,
     * write files, sync, umount, losetup -d. Returns each file's SHA-256 by path inside the file system.
     */
    static Map<String, String> fill(Path deviceFile, Path mountDir, long seed) throws IOException {
        return fill(deviceFile, mountDir, seed, List.of());
    }

    /** As {@link #fill(Path, Path, long)}, with more options for mkfs.ext4 (e.g. {@code -b 4096}). */
    static Map<String, String> fill(Path deviceFile, Path mountDir, long seed, List<String> mkfsOptions)
            throws IOException {
        Map<String, String> files;
        try (FuseCleanup undo = new FuseCleanup()) {
            String loop = Tools.ok("losetup", "-f", "--show", deviceFile.toString()).stdout().trim();
            undo.add(() -> Tools.ok("losetup", "-d", loop));
            List<String> mkfs = new ArrayList<>(List.of("mkfs.ext4", "-q", "-F", "-E",
                    "lazy_itable_init=0,lazy_journal_init=0"));
            mkfs.addAll(mkfsOptions);
            mkfs.add(loop);
            Tools.ok(MKFS_TIMEOUT, mkfs.toArray(String[]::new));
            Files.createDirectories(mountDir);
            Tools.ok("mount", "-t", "ext4", loop, mountDir.toString());
            undo.add(() -> Tools.ok("umount", mountDir.toString()));
            files = writeFiles(mountDir, seed);
            Tools.ok("sync", "-f", mountDir.toString());
            undo.unwind();
        }
        return files;
    }

    /** Files of seeded random sizes (empty, one byte, unaligned, a few MiB), one in a subdirectory. */
    private static Map<String, String> writeFiles(Path root, long seed) throws IOException {
        Random random = new Random(seed);
        int[] sizes = {0, 1, 511 + random.nextInt(4096), 3 << 20, random.nextInt(1 << 20), 64 << 10};
        Files.createDirectory(root.resolve("d"));
        Map<String, String> files = new LinkedHashMap<>();
        for (int i = 0; i < sizes.length; i++) {
            String name = (i == sizes.length - 1 ? "d/" : "") + "f" + i;
            byte[] data = new byte[sizes[i]];
            random.nextBytes(data);
            Files.write(root.resolve(name), data);
            files.put(name, sha256(data));
        }
        return files;
    }

    /** e2fsck -fn finds {@code image} clean, and debugfs reads every file back with its checksum. */
    static void verify(Path image, Map<String, String> files, Path scratch) throws IOException {
        Tools.ok(Duration.ofSeconds(60), "e2fsck", "-f", "-n", image.toString());
        for (Map.Entry<String, String> f : files.entrySet()) {
            Path out = scratch.resolve("dump-" + f.getKey().replace('/', '_'));
            Files.deleteIfExists(out);
            Tools.ok("debugfs", "-R", "dump /" + f.getKey() + " " + out, image.toString());
            assertEquals(f.getValue(), sha256(Files.readAllBytes(out)), "checksum of /" + f.getKey());
            Files.delete(out);
        }
    }

    /** Whether the file holds an ext4 superblock magic at its place: false for an image under a transform. */
    static boolean hasExt4Magic(Path image) throws IOException {
        try (FileChannel ch = FileChannel.open(image)) {
            ByteBuffer b = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, EXT4_MAGIC_OFFSET);
            return (b.getShort(0) & 0xffff) == EXT4_MAGIC;
        }
    }

    /**
     * A plain copy of an image written under the XOR transform, decoded here independently of loopdev with the
     * loop driver's {@code transfer_xor}: {@code plain[i] = raw[i] ^ key[(i & 511) % keysize]}.
     */
    static Path xorDecoded(Path raw, byte[] key, Path plain) throws IOException {
        assertNotEquals(0, key.length);
        byte[] buf = new byte[1 << 20];
        long pos = 0;
        try (InputStream in = Files.newInputStream(raw);
             OutputStream out = Files.newOutputStream(plain, StandardOpenOption.CREATE_NEW)) {
            for (int n; (n = in.readNBytes(buf, 0, buf.length)) > 0; pos += n) {
                for (int i = 0; i < n; i++) {
                    buf[i] ^= key[(int) ((pos + i) & 511) % key.length];
                }
                out.write(buf, 0, n);
            }
        }
        return plain;
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}

package dev.loopdev.luks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * What an image already holds, by the magic numbers blkid looks for first: a LUKS header, the common file systems,
 * swap, a partition table. {@code luks format} refuses to overwrite them unless told (as cryptsetup asks).
 */
public final class Signatures {
    private Signatures() {
    }

    /** A short name of what {@code image} holds ("LUKS2 header", "ext4 file system", ...), or null for nothing known. */
    public static String find(Path image) throws IOException {
        int luks = LuksImage.probe(image);
        if (luks > 0) {
            return "LUKS" + luks + " header";
        }
        byte[] head = read(image, 0, 70_000);
        ByteBuffer le = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        if (le.getShort(1080) == (short) 0xEF53) {
            int compat = le.getInt(1024 + 0x5C);
            int incompat = le.getInt(1024 + 0x60);
            String kind = (incompat & 0x40) != 0 || (incompat & 0x80) != 0 ? "ext4" : (compat & 0x4) != 0 ? "ext3"
                    : "ext2";
            return kind + " file system";
        }
        if (at(head, 0, "XFSB")) {
            return "xfs file system";
        }
        if (at(head, 65536 + 64, "_BHRfS_M")) {
            return "btrfs file system";
        }
        if (at(head, 3, "NTFS    ")) {
            return "ntfs file system";
        }
        if (at(head, 3, "EXFAT   ")) {
            return "exfat file system";
        }
        boolean bootSignature = (head[510] & 0xff) == 0x55 && (head[511] & 0xff) == 0xAA;
        if (bootSignature && (at(head, 54, "FAT1") || at(head, 82, "FAT32"))) {
            return "vfat file system";
        }
        if (at(head, 4086, "SWAPSPACE2") || at(head, 4086, "SWAP-SPACE")) {
            return "swap area";
        }
        if (at(head, 32769, "CD001")) {
            return "iso9660 file system";
        }
        if (at(head, 512, "EFI PART")) {
            return "GPT partition table";
        }
        if (bootSignature) {
            for (int e = 446; e < 510; e += 16) {
                if (head[e + 4] != 0) {
                    return "DOS partition table";
                }
            }
        }
        return null;
    }

    private static boolean at(byte[] b, int off, String magic) {
        byte[] m = magic.getBytes(StandardCharsets.US_ASCII);
        return off + m.length <= b.length && Arrays.equals(b, off, off + m.length, m, 0, m.length);
    }

    private static byte[] read(Path p, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            while (b.hasRemaining() && ch.read(b, pos + b.position()) > 0) {
                // read until the end of the file or of the buffer
            }
        }
        return b.array();
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * LUKS images against the kernel's own dm-crypt, in a VM, both ways and in one boot: LUKS2 with 4096- and with
 * 512-byte sectors (aes-xts-plain64) and LUKS1 (aes-cbc-essiv:sha256).
 *
 * <p>loopdev to the kernel: {@code loopdev luks format}, then ext4 made and files written through {@code loopdev
 * fuse} on the host (positional writes for 4096-byte sectors, mapped pages for 512, auto for LUKS1); in the guest
 * {@code cryptsetup open} over a loop device, e2fsck -fn, and the files' checksums. The kernel to loopdev: in the
 * guest cryptsetup luksFormat, open, mkfs.ext4, files; on the host {@code loopdev fuse} opens the image with the
 * passphrase file, e2fsck -fn finds it clean and debugfs reads the same files.
 *
 * <p>The 4096-byte case is the one that shows loopdev counts IVs as dm-crypt does: dm-crypt's table for a LUKS2
 * segment of 4096-byte sectors has {@code sector_size:4096} without {@code iv_large_sectors}, so the IV of each
 * sector is its number in 512-byte units; the guest's table is checked to say exactly that.
 */
@Timeout(900)
class VmLuksIT {
    private static final long IMAGE_BYTES = 48L << 20;
    private static final String PBKDF2 = "--pbkdf pbkdf2 --pbkdf-force-iterations 1000";
    private static final String ARGON2ID = "--pbkdf argon2id --pbkdf-force-iterations 4 --pbkdf-memory 1024 "
            + "--pbkdf-parallel 1";

    @TempDir
    Path work;

    /** One kind of image; the same format options go to loopdev and to cryptsetup; loopdev's write path. */
    private record Variant(String name, String format, String cipher, int sectorSize, String writePath) {
        List<String> formatOptions() {
            return List.of(format.split(" "));
        }
    }

    private static final List<Variant> VARIANTS = List.of(
            new Variant("luks2-4096", "--type luks2 --sector-size 4096 --cipher aes-xts-plain64 --key-size 512 "
                    + ARGON2ID, "aes-xts-plain64", 4096, "positional"),
            new Variant("luks2-512", "--type luks2 --sector-size 512 --cipher aes-xts-plain64 --key-size 512 "
                    + PBKDF2, "aes-xts-plain64", 512, "mapped"),
            new Variant("luks1", "--type luks1 --cipher aes-cbc-essiv:sha256 --key-size 256 " + PBKDF2,
                    "aes-cbc-essiv:sha256", 512, "auto"));

    @Test
    void dmCryptOpensWhatLoopdevWroteAndLoopdevOpensWhatDmCryptWrote() throws Exception {
        Tools.require("cryptsetup", "losetup", "mkfs.ext4", "e2fsck", "debugfs", "mount", "umount", "fusermount");
        VmGuest vm = VmGuest.prepare(work);
        Path pass = Files.writeString(work.resolve("pass"), "a passphrase both sides read from a file");

        StringBuilder script = new StringBuilder(GUEST_FUNCTIONS);
        List<String> steps = new ArrayList<>();
        for (Variant v : VARIANTS) {
            String a = "a-" + v.name();
            writeThroughLoopdev(v, a, pass);
            script.append("check_loopdev_image ").append(a).append('\n');
            for (String s : List.of("copy-in", "open", "table", "fsck", "verify", "close")) {
                steps.add(a + "-" + s);
            }
        }
        for (Variant v : VARIANTS) {
            String b = "b-" + v.name();
            script.append("format_in_guest ").append(b).append(' ').append(v.format()).append('\n');
            for (String s : List.of("format", "open", "table", "mkfs", "files", "fsck", "close", "copy-out")) {
                steps.add(b + "-" + s);
            }
        }

        VmGuest.Result r = vm.boot(work, script.toString(), 2, Duration.ofMinutes(10));
        r.assertPassed(steps);

        for (Variant v : VARIANTS) {
            assertTable(v, "a-" + v.name());
            assertTable(v, "b-" + v.name());
            readThroughLoopdev(v, "b-" + v.name(), pass);
        }
    }

    /** Host: loopdev formats the image, then ext4 and files go in through {@code loopdev fuse} and a loop device. */
    private void writeThroughLoopdev(Variant v, String name, Path pass) throws IOException {
        Path img = Images.sparse(work, name + ".img", IMAGE_BYTES);
        List<String> format = new ArrayList<>(List.of("luks", "format", img.toString(), "--key-file",
                pass.toString()));
        format.addAll(v.formatOptions());
        Tools.run(Duration.ofMinutes(2), Map.of(), LoopdevServer.command(format.toArray(String[]::new))).ok();
        Map<String, String> files;
        try (FuseCleanup undo = new FuseCleanup()) {
            Path mnt = work.resolve("mnt-" + name);
            FuseStack.fuse(undo, work, img, mnt, "--key-file", pass.toString(), "--write-path", v.writePath());
            files = FuseExt4.fill(mnt.resolve("disk"), work.resolve("fs-" + name), name.hashCode(),
                    List.of("-b", "4096"));
            undo.unwind();
        }
        assertEquals(v.name().startsWith("luks1") ? "1" : "2", dump(img, "^Version:\\s+(\\d+)$"));
        assertFalse(hasExt4Magic(img, dataOffset(img)), "the data segment holds plain ext4: nothing was encrypted");
        Files.writeString(work.resolve(name + ".sums"), files.entrySet().stream()
                .map(e -> e.getValue() + "  " + e.getKey() + "\n").collect(Collectors.joining()));
    }

    /** Host: the image the guest made is opened by {@code loopdev fuse}; e2fsck and debugfs read the file. */
    private void readThroughLoopdev(Variant v, String name, Path pass) throws IOException, InterruptedException {
        Path img = work.resolve(name + ".img");
        assertEquals(v.cipher(), dump(img, "^\\s*(?:cipher:|Cipher name:)\\s+(\\S+)$")
                + (v.name().startsWith("luks1") ? "-" + dump(img, "^Cipher mode:\\s+(\\S+)$") : ""));
        if (v.name().startsWith("luks2")) {
            assertEquals(Integer.toString(v.sectorSize()), dump(img, "^\\s*sector:\\s+(\\d+) \\[bytes\\]$"));
        }
        assertFalse(hasExt4Magic(img, dataOffset(img)), "the guest's data segment holds plain ext4");
        try (FuseCleanup undo = new FuseCleanup()) {
            Path mnt = work.resolve("mnt-" + name);
            FuseStack.fuse(undo, work, img, mnt, "--key-file", pass.toString(), "--read-only");
            Path disk = mnt.resolve("disk");
            assertEquals(IMAGE_BYTES - dataOffset(img), Files.size(disk), "the device is the data segment");
            VmExt4.assertFsckClean(disk);
            VmExt4.assertChecksums(disk, work.resolve(name + ".sums"), work);
            undo.unwind();
        }
    }

    /**
     * The guest's dm-crypt table: the cipher, and for 4096-byte sectors {@code sector_size:4096} without
     * {@code iv_large_sectors} (IVs in 512-byte units); 512-byte sectors need no option at all.
     */
    private void assertTable(Variant v, String name) throws IOException {
        String table = Files.readString(work.resolve(name + ".table")).strip();
        assertTrue(table.contains(" crypt " + v.cipher() + " "), name + ": " + table);
        assertFalse(table.contains("iv_large_sectors"), name + ": " + table);
        if (v.sectorSize() == 512) {
            assertFalse(table.contains("sector_size:"), name + ": " + table);
        } else {
            assertTrue(table.contains("sector_size:" + v.sectorSize()), name + ": " + table);
        }
    }

    /** Group 1 of the first line of {@code cryptsetup luksDump} that matches {@code regex}. */
    private static String dump(Path img, String regex) {
        String out = Tools.ok("cryptsetup", "luksDump", img.toString()).stdout();
        Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(out);
        assertTrue(m.find(), "no line like " + regex + " in luksDump:\n" + out);
        return m.group(1);
    }

    /** Where the data segment starts, as cryptsetup reads the header. */
    private static long dataOffset(Path img) {
        if (dump(img, "^Version:\\s+(\\d+)$").equals("2")) {
            return Long.parseLong(dump(img, "^\\s*offset:\\s+(\\d+) \\[bytes\\]$"));
        }
        return Long.parseLong(dump(img, "^Payload offset:\\s+(\\d+)$")) * 512;
    }

    /** Whether an ext4 superblock magic (0xEF53 at byte 1080 of the file system) is at {@code fsStart}. */
    private static boolean hasExt4Magic(Path img, long fsStart) throws IOException {
        try (FileChannel ch = FileChannel.open(img)) {
            ByteBuffer b = ByteBuffer.allocate(2);
            ch.read(b, fsStart + 1080);
            return (b.get(0) & 0xff) == 0x53 && (b.get(1) & 0xff) == 0xef;
        }
    }

    /**
     * The guest's two procedures. Images are copied to the guest's tmpfs and back (a loop device over a 9p file
     * would test 9p); $W is the directory shared with the host, which holds the passphrase file.
     */
    private static final String GUEST_FUNCTIONS = """
            W=$LOOPDEV_WORK
            open_image() {
              n=$1
              step $n-open sh -c "losetup -f --show /tmp/$n.img > /tmp/$n.loop \\
                && cryptsetup open --key-file $W/pass \\$(cat /tmp/$n.loop) $n"
              step $n-table sh -c "dmsetup table $n | sed 's/ [0-9a-f]\\{32,\\} / KEY /' > $W/$n.table \\
                && cat $W/$n.table"
            }
            close_image() {
              n=$1
              step $n-close sh -c "cryptsetup close $n && losetup -d \\$(cat /tmp/$n.loop)"
            }
            check_loopdev_image() {
              n=$1; m=/tmp/m-$n
              step $n-copy-in cp --sparse=always $W/$n.img /tmp/$n.img
              open_image $n
              step $n-fsck e2fsck -fn /dev/mapper/$n
              step $n-verify sh -c "mkdir -p $m && mount -o ro /dev/mapper/$n $m && cd $m \\
                && sha256sum -c $W/$n.sums; rc=\\$?; cd /; umount $m && exit \\$rc"
              close_image $n
            }
            format_in_guest() {
              n=$1; shift; m=/tmp/m-$n
              step $n-format sh -c "truncate -s 48M /tmp/$n.img \\
                && cryptsetup luksFormat --batch-mode --key-file $W/pass $* /tmp/$n.img"
              open_image $n
              step $n-mkfs mkfs.ext4 -q -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/$n
              step $n-files sh -c "mkdir -p $m && mount /dev/mapper/$n $m && cd $m \\
                && head -c 3000001 /dev/urandom > big && head -c 4097 /dev/urandom > odd \\
                && head -c 511 /dev/urandom > small && : > empty \\
                && sha256sum big odd small empty > $W/$n.sums && cd / && umount $m"
              step $n-fsck e2fsck -fn /dev/mapper/$n
              close_image $n
              step $n-copy-out cp --sparse=always /tmp/$n.img $W/$n.img
            }
            """;
}

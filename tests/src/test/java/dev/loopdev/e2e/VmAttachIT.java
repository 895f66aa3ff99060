package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code loopdev attach} inside a VM, with the host's JDK: the file becomes /dev/nbd1 over two connections (the
 * kernel configured by generic netlink, our server in-process), survives the same round trip as with nbd-client,
 * shows in {@code list} and {@code list --json}, and {@code detach} leaves a complete, clean file. The refusals
 * (device in use, device not attached, no NBD in the kernel, not root) each say one clear thing. The ioctl
 * fallback (--no-netlink: NBD_SET_SOCK and a thread in NBD_DO_IT) writes and reads through as well.
 */
@Timeout(600)
class VmAttachIT {
    @TempDir
    Path work;

    @Test
    void attachRoundTripDetachInGuest() throws Exception {
        VmGuest vm = VmGuest.prepare(work);
        try (RandomAccessFile f = new RandomAccessFile(work.resolve("attach.img").toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        String loopdev = VmGuest.loopdevCommand(work);
        String script = "L='" + loopdev + "'\n" + SCRIPT;
        List<String> steps = new ArrayList<>(List.of("copy-in", "attach", "list-json", "list", "busy", "direct",
                "mkfs", "mount", "files", "umount", "fsck", "ro-verify", "detach", "detached", "image-fsck",
                "copy-out", "ioctl-attach", "ioctl-direct", "ioctl-detach", "ioctl-data", "no-nbd"));

        VmGuest.Result r = vm.boot(work, script, 2, Duration.ofMinutes(8));
        r.assertPassed(steps);

        String json = Files.readString(work.resolve("list.json"));
        // losetup --json's shape: {"nbddevices": [{"name": ..., "back-file": ..., ...}]}
        assertTrue(json.strip().startsWith("{") && json.contains("\"nbddevices\": [")
                && json.contains("\"name\": \"/dev/nbd1\"") && json.contains("\"back-file\": \"/tmp/a.img\"")
                && json.contains("\"sizelimit\": 0") && json.contains("\"offset\": 0") && json.contains("\"ro\": false")
                && json.contains("\"log-sec\": 512") && json.contains("\"connections\": 2")
                && json.contains("\"netlink\": true"), "list --json: " + json);
        String table = Files.readString(work.resolve("list.txt"));
        assertTrue(table.startsWith("NAME ") && table.contains(" BACK-FILE ") && table.contains("/dev/nbd1")
                && table.contains("/tmp/a.img"), "list: " + table);
        Path img = work.resolve("attached.img");
        VmExt4.assertFsckClean(img);
        VmExt4.assertChecksums(img, work.resolve("sums-attach"), work);
    }

    /** On the host (no VM needed): detaching a device nobody attached says so. */
    @Test
    void detachOfUnattachedDevice() throws Exception {
        VmGuest.Run run = VmGuest.run(Duration.ofSeconds(60), Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-jar", LoopdevServer.jar().toString(), "detach", "/dev/nbd15");
        assertEquals(1, run.exitCode, run.output);
        assertEquals("loopdev: /dev/nbd15 is not attached", run.output.strip());
    }

    /** On the host: attach as an unprivileged user says it needs root, and nothing else. */
    @Test
    void refusesNonRoot() throws Exception {
        Path img = work.resolve("x.img");
        Files.write(img, new byte[1 << 20]);
        List<String> cmd = new ArrayList<>();
        if ("root".equals(System.getProperty("user.name"))) {
            cmd.addAll(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
        }
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                LoopdevServer.jar().toString(), "attach", img.toString()));
        VmGuest.Run run = VmGuest.run(Duration.ofSeconds(60), cmd.toArray(String[]::new));
        assertEquals(1, run.exitCode, run.output);
        assertEquals("loopdev: attach needs root: only root may configure the kernel's NBD devices",
                run.output.strip());
    }

    private static final String SCRIPT = """
            m=/tmp/m
            step copy-in cp --sparse=always $LOOPDEV_WORK/attach.img /tmp/a.img
            step attach sh -c "$L attach --connections 2 --device /dev/nbd1 /tmp/a.img > /tmp/attach.out \\
              && cat /tmp/attach.out && test \\"\\$(cat /tmp/attach.out)\\" = /dev/nbd1"
            step list-json sh -c "$L list --json > $LOOPDEV_WORK/list.json && cat $LOOPDEV_WORK/list.json"
            step list sh -c "$L list > $LOOPDEV_WORK/list.txt && cat $LOOPDEV_WORK/list.txt"
            step busy sh -c "truncate -s 1M /tmp/b.img; ! $L attach --foreground --device /dev/nbd1 /tmp/b.img 2>/tmp/busy.err; \\
              cat /tmp/busy.err; grep -q 'loopdev: /dev/nbd1 is already in use' /tmp/busy.err"
            d=/dev/nbd1
            step direct sh -c "head -c 1M /dev/urandom > /tmp/r && dd if=/tmp/r of=$d bs=4096 seek=333 oflag=direct status=none \\
              && dd if=$d of=/tmp/r2 bs=4096 skip=333 count=256 iflag=direct status=none && cmp /tmp/r /tmp/r2"
            step mkfs mkfs.ext4 -q -F $d
            step mount sh -c "mkdir -p $m && mount $d $m"
            step files sh -c "cd $m && head -c 2100000 /dev/urandom > big && head -c 4097 /dev/urandom > odd \\
              && echo hello > small && sha256sum big odd small > $LOOPDEV_WORK/sums-attach && sync"
            step umount umount $m
            step fsck e2fsck -fn $d
            step ro-verify sh -c "mount -o ro $d $m && cd $m && sha256sum -c $LOOPDEV_WORK/sums-attach && cd / && umount $m"
            step detach $L detach /dev/nbd1
            step detached sh -c "! test -e /sys/block/nbd1/pid && ! test -e /run/loopdev/nbd1.json"
            step image-fsck e2fsck -fn /tmp/a.img
            step copy-out cp --sparse=always /tmp/a.img $LOOPDEV_WORK/attached.img
            step ioctl-attach sh -c "$L attach --no-netlink --device /dev/nbd2 /tmp/a.img && test -e /sys/block/nbd2/pid \\
              && test -z \\"\\$(cat /sys/block/nbd2/backend 2>/dev/null)\\""
            step ioctl-direct sh -c "head -c 1M /dev/urandom > /tmp/r3 && dd if=/tmp/r3 of=/dev/nbd2 bs=4096 seek=9000 oflag=direct status=none \
              && dd if=/dev/nbd2 of=/tmp/r4 bs=4096 skip=9000 count=256 iflag=direct status=none && cmp /tmp/r3 /tmp/r4"
            step ioctl-detach $L detach /dev/nbd2
            step ioctl-data sh -c "! test -e /sys/block/nbd2/pid && dd if=/tmp/a.img bs=4096 skip=9000 count=256 status=none | cmp - /tmp/r3"
            step no-nbd sh -c "$VM_BUSYBOX rmmod nbd && ! $L attach --foreground /tmp/a.img 2>/tmp/nonbd.err; cat /tmp/nonbd.err; \\
              grep -q 'modprobe nbd' /tmp/nonbd.err"
            """;
}

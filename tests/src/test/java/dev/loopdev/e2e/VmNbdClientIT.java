package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Linux kernel's own NBD client (nbd-client in a VM) against {@code loopdev serve} on the host, over both
 * write paths and through the XOR transform, in one boot: O_DIRECT writes at an odd offset read back, mkfs.ext4,
 * files with checksums, e2fsck, a read-only remount that verifies them; then the host finds the same file system
 * and the same files in the image. Also: sessions end cleanly (nbd-client -d, a client killed with SIGKILL)
 * while the server goes on serving the others.
 */
@Timeout(600)
class VmNbdClientIT {
    private static final long IMAGE_BYTES = 64L << 20;

    @TempDir
    Path work;

    private record Variant(String name, int nbd, List<String> options) {
    }

    @Test
    void kernelClientRoundTripsThroughServe() throws Exception {
        VmGuest vm = VmGuest.prepare(work);
        Path key = work.resolve("xor.key");
        byte[] k = new byte[16];
        new Random(4).nextBytes(k);
        Files.write(key, k);
        List<Variant> variants = List.of(
                new Variant("mapped", 0, List.of("--write-path", "mapped")),
                new Variant("positional", 1, List.of("--write-path", "positional")),
                new Variant("xor", 2, List.of("--transform", "xor", "--key-file", key.toString())));
        List<LoopdevServer> servers = new ArrayList<>();
        try {
            StringBuilder script = new StringBuilder(ROUND_TRIP);
            List<String> steps = new ArrayList<>();
            for (Variant v : variants) {
                Path img = work.resolve(v.name() + ".img");
                try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
                    f.setLength(IMAGE_BYTES);
                }
                List<String> opts = new ArrayList<>(v.options());
                opts.addAll(List.of("--export", "disk"));
                LoopdevServer s = LoopdevServer.tcp(work, img, opts.toArray(String[]::new));
                servers.add(s);
                script.append("roundtrip ").append(v.name()).append(" /dev/nbd").append(v.nbd()).append(' ')
                        .append(s.port()).append('\n');
                for (String st : List.of("connect", "direct", "mkfs", "mount", "files", "umount", "fsck", "ro-verify",
                        "disconnect")) {
                    steps.add(v.name() + "-" + st);
                }
            }
            script.append(SESSIONS.replace("@PORT@", Integer.toString(servers.get(0).port())));
            steps.addAll(List.of("sessions-connect-two", "sessions-read-both", "sessions-kill-client",
                    "sessions-other-still-served", "sessions-disconnect", "sessions-new-client"));

            VmGuest.Result r = vm.boot(work, script.toString(), 1, Duration.ofMinutes(6));
            r.assertPassed(steps);

            for (LoopdevServer s : servers) {
                assertTrue(s.isAlive(), "a server died while the kernel's sessions ended");
            }
            VmGuest.Run info = VmGuest.run(Duration.ofSeconds(30), "nbdinfo",
                    "nbd://127.0.0.1:" + servers.get(0).port() + "/disk");
            assertEquals(0, info.exitCode, "a new client after the kernel's sessions ended:\n" + info.output);
            for (LoopdevServer s : servers) {
                s.stop();
            }
        } finally {
            for (LoopdevServer s : servers) {
                s.close();
            }
        }
        for (Variant v : variants.subList(0, 2)) {
            Path img = work.resolve(v.name() + ".img");
            VmExt4.assertFsckClean(img);
            VmExt4.assertChecksums(img, work.resolve("sums-" + v.name()), work);
        }
        assertXorImage(work.resolve("xor.img"), key);
    }

    /** The XOR image is encoded on disk (no ext4 magic), and decodes to the checked file system. */
    private void assertXorImage(Path img, Path key) throws Exception {
        assertFalse(VmExt4.hasExt4Magic(img), "the XOR image holds a plain ext4 superblock: nothing was encoded");
        Path plain = work.resolve("xor-decoded.img");
        try (LoopdevServer s = LoopdevServer.tcp(work, img, "--transform", "xor", "--key-file", key.toString(),
                "--read-only", "--export", "disk")) {
            VmGuest.Run copy = VmGuest.run(Duration.ofMinutes(2), "nbdcopy",
                    "nbd://127.0.0.1:" + s.port() + "/disk", plain.toString());
            assertEquals(0, copy.exitCode, "nbdcopy of the decoded XOR image:\n" + copy.output);
            s.stop();
        }
        assertTrue(VmExt4.hasExt4Magic(plain));
        VmExt4.assertFsckClean(plain);
        VmExt4.assertChecksums(plain, work.resolve("sums-xor"), work);
    }

    /** One device's round trip; the checksums go to the shared work directory for the host to check. */
    private static final String ROUND_TRIP = """
            roundtrip() {
              n=$1; d=$2; port=$3; m=/tmp/m-$n
              step $n-connect nbdc 10.0.2.2 $port $d -N disk
              step $n-direct sh -c "head -c 1M /dev/urandom > /tmp/$n.r \\
                && dd if=/tmp/$n.r of=$d bs=4096 seek=333 oflag=direct status=none \\
                && dd if=$d of=/tmp/$n.r2 bs=4096 skip=333 count=256 iflag=direct status=none && cmp /tmp/$n.r /tmp/$n.r2"
              step $n-mkfs mkfs.ext4 -q -F $d
              step $n-mount sh -c "mkdir -p $m && mount $d $m"
              step $n-files sh -c "cd $m && head -c 2100000 /dev/urandom > big && head -c 4097 /dev/urandom > odd \\
                && echo hello > small && sha256sum big odd small > $LOOPDEV_WORK/sums-$n && sync"
              step $n-umount umount $m
              step $n-fsck e2fsck -fn $d
              step $n-ro-verify sh -c "mount -o ro $d $m && cd $m && sha256sum -c $LOOPDEV_WORK/sums-$n && cd / && umount $m"
              step $n-disconnect nbdc -d $d
            }
            """;

    /**
     * Two kernel sessions on one server: one configured by netlink, one by ioctl with nbd-client parked in
     * NBD_DO_IT; killing the latter with SIGKILL ends its session, the other keeps working, and a new one starts.
     */
    private static final String SESSIONS = """
            step sessions-connect-two sh -c "nbdc 10.0.2.2 @PORT@ /dev/nbd3 -N disk \\
              && { nbdc 10.0.2.2 @PORT@ /dev/nbd4 -N disk -nonetlink -nofork >/tmp/nofork.log 2>&1 & echo \\$! > /tmp/nofork.pid; }"
            step sessions-read-both sh -c "i=0; while [ \\$i -lt 30 ] && ! test -e /sys/block/nbd4/pid; do sleep 1; i=\\$((i+1)); done; \\
              dd if=/dev/nbd3 bs=1M count=4 iflag=direct status=none | sha256sum > /tmp/a \\
              && dd if=/dev/nbd4 bs=1M count=4 iflag=direct status=none | sha256sum > /tmp/b && cmp /tmp/a /tmp/b"
            step sessions-kill-client sh -c "kill -9 \\$(cat /tmp/nofork.pid); \\
              i=0; while [ \\$i -lt 30 ]; do test -e /sys/block/nbd4/pid || exit 0; sleep 1; i=\\$((i+1)); done; exit 1"
            step sessions-other-still-served sh -c "dd if=/dev/nbd3 bs=1M count=4 iflag=direct status=none | sha256sum | cmp - /tmp/a"
            step sessions-disconnect nbdc -d /dev/nbd3
            step sessions-new-client sh -c "nbdc 10.0.2.2 @PORT@ /dev/nbd3 -N disk \\
              && dd if=/dev/nbd3 bs=1M count=4 iflag=direct status=none | sha256sum | cmp - /tmp/a && nbdc -d /dev/nbd3"
            """;
}

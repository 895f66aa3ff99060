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
 * {@code loopdev attach --ublk} in a VM with Debian 13's kernel (6.12, ublk_drv), one boot for everything: four
 * images attached side by side as /dev/ublkb0-3 (mapped and positional write paths; no transform, XOR, AES-XTS), each
 * with ext4, files and their checksums, and fio writing then verifying crc32c through the file system with O_DIRECT
 * (4 KiB random, 1 MiB sequential); {@code list --json}; a second server on the same image refused; a device that
 * is mounted neither detached nor stopped by SIGTERM; detach by {@code loopdev detach}, SIGTERM and SIGINT, each
 * leaving no device behind; then e2fsck and the checksums on the host, the encrypted images decrypted there first.
 * And kill -9 of a server in the middle of writes: /dev/ublkbN goes away without hanging the writer, every write
 * that was acknowledged and flushed (O_DIRECT + fsync, and the page cache + sync) is in the image, {@code list}
 * shows the dead device and {@code detach} deletes it.
 */
@Timeout(2400)
class VmUblkIT {
    @TempDir
    Path work;

    @Test
    void ublkDevicesInGuest() throws Exception {
        VmGuest vm = VmGuest.prepare(work, VmGuest.Kernel.TRIXIE);
        byte[] xorKey = new byte[16];
        byte[] aesKey = new byte[64];
        Random random = new Random(16);
        random.nextBytes(xorKey);
        random.nextBytes(aesKey);
        Files.write(work.resolve("xor.key"), xorKey);
        Files.write(work.resolve("aes.key"), aesKey);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String script = "L='" + VmGuest.loopdevCommand(work) + "'\n" + SCRIPT;
        List<String> steps = new ArrayList<>(List.of("attach-a", "attach-b", "attach-c", "attach-k", "list-and-second", "fs-a", "fio-rand", "fio-seq",
                "fs-b", "fs-c", "busy", "sigterm-busy", "umount-a", "fsck-a", "detach-a", "gone-a", "sigterm-b",
                "sigint-c", "kill-9", "list-dead", "detach-dead", "copy-out"));

        VmGuest.Result r = vm.boot(work, script, 2, 2048, Duration.ofMinutes(35));
        r.assertPassed(steps);

        String json = Files.readString(work.resolve("list.json"));
        assertTrue(json.contains("\"ublkdevices\": ["), "losetup --json's shape: " + json);
        for (String expected : new String[] {"\"name\": \"/dev/ublkb0\"", "\"back-file\": \"/tmp/a.img\"",
                "\"queues\": 2", "\"name\": \"/dev/ublkb1\"", "\"transform\": \"xor\"",
                "\"write-path\": \"positional\"", "\"name\": \"/dev/ublkb2\"", "\"name\": \"/dev/ublkb3\"",
                "\"depth\": 16"}) {
            assertTrue(json.contains(expected), expected + " in list --json: " + json);
        }
        assertTrue(Files.readString(work.resolve("list-dead.txt")).contains("/dev/ublkb3"));

        Path a = work.resolve("a.img");
        VmExt4.assertFsckClean(a);
        VmExt4.assertChecksums(a, work.resolve("sums-a"), work);
        assertDecryptsToExt4(work.resolve("b.img"), "sums-b", java, "--transform", "xor", "--key-file",
                work.resolve("xor.key").toString());
        assertDecryptsToExt4(work.resolve("c.img"), "sums-c", java, "--transform", "aes-xts-plain64", "--key-size",
                "512", "--key-file", work.resolve("aes.key").toString());
    }

    /** The image as the guest left it is not ext4 as such; decrypted on the host it is, clean, with the files. */
    private void assertDecryptsToExt4(Path image, String sums, String java, String... transform) throws Exception {
        assertFalse(VmExt4.hasExt4Magic(image), image + " holds plaintext: the transform was not applied");
        Path plain = work.resolve(image.getFileName() + ".plain");
        List<String> cmd = new ArrayList<>(List.of(java, "-jar", LoopdevServer.jar().toString(), "decrypt", image.toString(),
                plain.toString()));
        cmd.addAll(List.of(transform));
        VmGuest.Run run = VmGuest.run(Duration.ofMinutes(5), cmd.toArray(String[]::new));
        assertEquals(0, run.exitCode, "loopdev decrypt on the host:\n" + run.output);
        VmExt4.assertFsckClean(plain);
        VmExt4.assertChecksums(plain, work.resolve(sums), work);
    }

    /** On the host, whose kernel has no ublk: attach --ublk says so in one line, and what to do. */
    @Test
    void noUblkInThisKernel() throws Exception {
        Path img = work.resolve("x.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        VmGuest.Run run = VmGuest.run(Duration.ofSeconds(60), Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-jar", LoopdevServer.jar().toString(), "attach", "--ublk", img.toString());
        assertEquals(1, run.exitCode, run.output);
        assertEquals("loopdev: this kernel has no ublk: /dev/ublk-control is missing (modprobe ublk_drv; "
                + "ublk needs Linux 6.0 or newer)", run.output.strip());
    }

    private static final String SCRIPT = """
            W=$LOOPDEV_WORK
            m=/tmp/m
            mkdir -p $m
            truncate -s 256M /tmp/a.img
            truncate -s 128M /tmp/b.img /tmp/c.img
            truncate -s 64M /tmp/k.img
            # One at a time: four JVMs starting at once under emulation can each take longer than attach waits.
            attach_as() { # DEVICE IMAGE OPTIONS...: attach --ublk prints the device it was asked for
              dev=$1
              img=$2
              shift 2
              $L attach --ublk --device $dev "$@" $img > /tmp/attach.out && cat /tmp/attach.out \
                && test "$(cat /tmp/attach.out)" = $dev && test -b $dev
            }
            list_and_second() {
              $L list --json > $W/list.json &
              ! timeout 300 $L attach --ublk --foreground /tmp/a.img 2> /tmp/second.err
              rc=$?
              wait
              cat $W/list.json /tmp/second.err
              [ $rc -eq 0 ] && grep -q '/tmp/a.img is in use by another process' /tmp/second.err
            }
            fs_fill() { # DEVICE NAME: ext4, mounted on $m, three files and their checksums in $W/sums-NAME
              mkfs.ext4 -q -F $1 && mount $1 $m && cd $m && head -c 3000000 /dev/urandom > big \\
                && head -c 4097 /dev/urandom > odd && echo hello > small && sha256sum big odd small > $W/sums-$2 \\
                && cd / && sync
            }
            fio_verify() { # RW BS IODEPTH SIZE: written, then read back and checked, O_DIRECT, in the mounted fs
              fio --name=verify --directory=$m --filename=fio-$1 --size=$4 --rw=$1 --bs=$2 --iodepth=$3 \\
                --ioengine=libaio --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 \\
                --output=/tmp/fio.out
              rc=$?
              grep -E 'IOPS|err=' /tmp/fio.out
              rm -f $m/fio-$1
              return $rc
            }
            fs_small() { # DEVICE NAME: fs_fill, a short fio verify, unmounted
              fs_fill $1 $2 && fio_verify randwrite 4k 16 8M && umount $m && e2fsck -fn $1
            }
            busy() {
              ! $L detach /dev/ublkb0 2> /tmp/busy.err
              rc=$?
              cat /tmp/busy.err
              [ $rc -eq 0 ] && grep -q '/dev/ublkb0 is in use' /tmp/busy.err && test -b /dev/ublkb0
            }
            server_of() { pgrep -f "attach --ublk --device $1 "; }
            sigterm_busy() { # the server says why it stays, and it does
              kill -TERM $(server_of /dev/ublkb0) && sleep 10 && test -b /dev/ublkb0 \\
                && grep 'SIGTERM ignored' /run/loopdev/ublkb0.log
            }
            gone() { # DEVICE: neither the block device, nor its control node, nor its record is left
              n=${1#/dev/ublkb}
              ! test -e $1 && ! test -e /dev/ublkc$n && ! test -e /run/loopdev/ublkb$n.json
            }
            stop_by() { # SIGNAL DEVICE: the server flushes, deletes the device and exits
              pid=$(server_of $2)
              kill -$1 $pid || return 1
              i=0
              while kill -0 $pid 2> /dev/null && [ $i -lt 180 ]; do sleep 1; i=$((i + 1)); done
              ! kill -0 $pid 2> /dev/null && gone $2
            }
            kill_9() {
              d=/dev/ublkb3
              head -c 8M /dev/urandom > /tmp/r1
              head -c 4M /dev/urandom > /tmp/r2
              dd if=/tmp/r1 of=$d bs=1M seek=8 oflag=direct conv=fsync status=none || return 1
              dd if=/tmp/r2 of=$d bs=64k seek=512 status=none && sync || return 1
              pid=$(server_of $d)
              dd if=/dev/urandom of=$d bs=1M seek=40 count=16 oflag=direct status=none 2> /dev/null &
              writer=$!
              sleep 1
              kill -9 $pid
              i=0
              while test -e $d && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
              if test -e $d; then echo "$d is still there"; return 1; fi
              i=0
              while kill -0 $writer 2> /dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
              if kill -0 $writer 2> /dev/null; then echo "the writer hangs"; return 1; fi
              dd if=/tmp/k.img bs=1M skip=8 count=8 status=none | cmp - /tmp/r1 \\
                && dd if=/tmp/k.img bs=64k skip=512 count=64 status=none | cmp - /tmp/r2
            }
            step attach-a attach_as /dev/ublkb0 /tmp/a.img --queues 2
            step attach-b attach_as /dev/ublkb1 /tmp/b.img --write-path positional --transform xor --key-file $W/xor.key
            step attach-c attach_as /dev/ublkb2 /tmp/c.img --write-path mapped --transform aes-xts-plain64 \
              --key-size 512 --key-file $W/aes.key
            step attach-k attach_as /dev/ublkb3 /tmp/k.img --depth 16
            step list-and-second list_and_second
            step fs-a fs_fill /dev/ublkb0 a
            step fio-rand fio_verify randwrite 4k 16 32M
            step fio-seq fio_verify write 1M 8 64M
            step fs-b fs_small /dev/ublkb1 b
            step fs-c fs_small /dev/ublkb2 c
            step busy busy
            step sigterm-busy sigterm_busy
            step umount-a umount $m
            step fsck-a e2fsck -fn /dev/ublkb0
            step detach-a $L detach /dev/ublkb0
            step gone-a gone /dev/ublkb0
            step sigterm-b stop_by TERM /dev/ublkb1
            step sigint-c stop_by INT /dev/ublkb2
            step kill-9 kill_9
            step list-dead sh -c "$L list > $W/list-dead.txt; cat $W/list-dead.txt; grep -q 'server gone' $W/list-dead.txt"
            step detach-dead sh -c "$L detach /dev/ublkb3 && ! test -e /dev/ublkc3 && ls -la /dev/ublk-control /dev/ublk*"
            step copy-out sh -c "cp --sparse=always /tmp/a.img /tmp/b.img /tmp/c.img $W/"
            """;
}

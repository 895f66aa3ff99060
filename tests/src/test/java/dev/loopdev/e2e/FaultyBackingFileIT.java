package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.Errno;
import dev.loopdev.FaultyDevice;
import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.WritePathKind;
import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.ShmTempDir;
import dev.loopdev.e2e.harness.Tools;
import dev.loopdev.fuse.FuseMount;
import dev.loopdev.fuse.FuseOptions;
import dev.loopdev.nbd.Nbd;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Faults in the backing file itself: the image is a file in a FUSE mount (loopdev's own FUSE frontend, in this test's
 * JVM) over a {@link FaultyDevice}, nbdkit's error filter at chosen offsets: a stretch that fails reads with EIO,
 * one that fails writes with ENOSPC, one that fails writes with EIO. {@code loopdev serve --stats} serves that file
 * on each write path, with and without XOR. A client reads and writes all over the device, the bad stretches
 * included: exactly the requests that touch a bad stretch fail, the rest succeed with the right data, the server
 * goes on serving (nbdinfo too), and once the faults are healed every acknowledged byte is there. The server's
 * {@code --stats} counts the error replies the client got.
 *
 * <p>The mapped path reads and writes through the page cache of the FUSE file (mounted without direct_io, so that
 * it can be mapped): a read that touches a bad stretch fails when its pages are brought in, and a write into one
 * lands in the page cache and fails when it is written back, that is at the FLUSH that makes it durable, as with
 * any file system that caches writes. The positional path on a direct_io mount sees each error at the request.
 */
class FaultyBackingFileIT {
    private static final int SIZE = 16 << 20;
    private static final long BAD_READ = 4 << 20;
    private static final long BAD_WRITE_ENOSPC = 8 << 20;
    private static final long BAD_WRITE_EIO = 12 << 20;
    private static final int BAD_BYTES = 64 << 10;
    private static final int REQUESTS = 300;

    @TempDir(factory = ShmTempDir.class)
    Path dir;

    @BeforeEach
    void tools() {
        Tools.require("nbdinfo");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    @Timeout(240)
    void onlyRequestsThatTouchABadStretchFailAndAcknowledgedDataSurvives(Variant v) throws Exception {
        boolean mapped = v.writePath().equals("mapped");
        byte[] model = new byte[SIZE];
        new Random(7).nextBytes(model);
        Path raw = Images.write(dir.resolve("raw.img"), v.raw(model, 0));
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        int[] errors = new int[3]; // READ, WRITE, FLUSH error replies the client got
        List<long[]> failedWrites = new ArrayList<>();
        try (LoopDevice below = LoopDevice.open(LoopConfig.of(raw).withWritePath(WritePathKind.POSITIONAL))) {
            FaultyDevice faulty = new FaultyDevice(below);
            try (FuseMount fuse = FuseMount.mount(faulty, mnt, FuseOptions.defaults().withDirectIo(!mapped))) {
                LoopdevServer server = LoopdevServer.unix(dir, fuse.file(), v.options(dir, "--stats"));
                try (server) {
                    assertTrue(server.stderr().contains(v.writePath() + " write path"), server.stderr());
                    faulty.failAt(FaultyDevice.Op.READ, BAD_READ, BAD_BYTES, Errno.EIO)
                            .failAt(FaultyDevice.Op.WRITE, BAD_WRITE_ENOSPC, BAD_BYTES, Errno.ENOSPC)
                            .failAt(FaultyDevice.Op.WRITE, BAD_WRITE_EIO, BAD_BYTES, Errno.EIO);
                    try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                        Random r = new Random(11);
                        for (int k = 0; k < REQUESTS; k++) {
                            request(c, r, mapped, model, errors, failedWrites, k);
                        }
                        server.assertAlive();
                        assertTrue(Tools.ok("nbdinfo", "--size", server.uri()).stdout().strip()
                                .equals(Integer.toString(SIZE)), "nbdinfo while the faults are on");
                        faulty.heal();
                        for (int at = 0; at < SIZE; at += 1 << 20) {
                            byte[] now = c.read(at, 1 << 20);
                            for (int i = 0; i < now.length; i += 512) {
                                if (!inAny(failedWrites, at + i)) {
                                    assertArrayEquals(java.util.Arrays.copyOfRange(model, at + i, at + i + 512),
                                            java.util.Arrays.copyOfRange(now, i, i + 512),
                                            "the sector at " + (at + i) + " after healing");
                                }
                            }
                        }
                        assertEquals(0, c.flush(), "FLUSH once the faults are healed");
                    }
                    server.stop();
                }
                String stats = server.stderr();
                System.out.println(v + ": error replies READ " + errors[0] + ", WRITE " + errors[1] + ", FLUSH "
                        + errors[2] + "; " + stats.lines().filter(l -> l.startsWith("error replies")).toList());
                assertTrue(errors[0] > 0 && errors[1] + errors[2] > 0, "the bad stretches were touched");
                assertEquals(errors[0] + errors[1] + errors[2], statsTotal(stats), stats);
            }
        }
    }

    /** One random request: a read or a write anywhere, a third of them at the edge of a bad stretch; flushes. */
    private static void request(NbdTestClient c, Random r, boolean mapped, byte[] model, int[] errors,
                                List<long[]> failedWrites, int k) throws IOException {
        int length = 512 * (1 + r.nextInt(128));
        long offset = 512L * r.nextInt((SIZE - length) / 512);
        if (r.nextInt(3) == 0) {
            long bad = new long[] {BAD_READ, BAD_WRITE_ENOSPC, BAD_WRITE_EIO}[r.nextInt(3)];
            offset = Math.max(0, bad + (r.nextBoolean() ? -length / 2 : BAD_BYTES - length / 2) / 512 * 512);
        }
        String what = " [" + offset + ", +" + length + ") of request " + k;
        if (k % 10 == 9) {
            int e = c.flush();
            if (e != 0) {
                assertTrue(mapped, "FLUSH failed on the positional path, which has nothing cached: " + e);
                assertTrue(e == Errno.EIO.code || e == Errno.ENOSPC.code, "FLUSH error " + e);
                errors[2]++;
            }
            return;
        }
        if (r.nextBoolean()) {
            NbdTestClient.SimpleReply reply = c.call(0, Nbd.CMD_READ, offset, length, null);
            if (touches(offset, length, BAD_READ)) {
                assertEquals(Errno.EIO.code, reply.error(), "READ" + what);
                errors[0]++;
            } else {
                assertEquals(0, reply.error(), "READ" + what);
                if (!overlapsAny(failedWrites, offset, length)) {
                    assertArrayEquals(java.util.Arrays.copyOfRange(model, (int) offset, (int) offset + length),
                            reply.data(), "READ" + what);
                }
            }
            return;
        }
        byte[] data = new byte[length];
        r.nextBytes(data);
        int e = c.write(offset, data, false);
        boolean enospc = touches(offset, length, BAD_WRITE_ENOSPC);
        boolean eio = touches(offset, length, BAD_WRITE_EIO);
        if (enospc || eio) {
            // A write that cannot be stored is never known good: the positional path fails it at once, the mapped
            // one when it is written back; what it leaves in its range is anyone's guess.
            failedWrites.add(new long[] {offset, offset + length});
            if (!mapped) {
                assertEquals(enospc ? Errno.ENOSPC.code : Errno.EIO.code, e, "WRITE" + what);
                errors[1]++;
                return;
            }
        } else if (mapped && touches(offset, length, BAD_READ) && e != 0) {
            // The mapped path reads a page in before it writes part of it: a bad stretch for reads fails that.
            assertEquals(Errno.EIO.code, e, "WRITE" + what);
            errors[1]++;
            failedWrites.add(new long[] {offset, offset + length});
            return;
        }
        if (e != 0) {
            assertTrue(mapped && (enospc || eio), "WRITE" + what + " failed: " + e);
            errors[1]++;
            return;
        }
        System.arraycopy(data, 0, model, (int) offset, length);
    }

    private static boolean touches(long offset, int length, long bad) {
        return offset < bad + BAD_BYTES && bad < offset + length;
    }

    private static boolean overlapsAny(List<long[]> ranges, long offset, int length) {
        for (long[] range : ranges) {
            if (offset < range[1] && range[0] < offset + length) {
                return true;
            }
        }
        return false;
    }

    private static boolean inAny(List<long[]> ranges, long pos) {
        for (long[] range : ranges) {
            if (pos >= range[0] && pos < range[1]) {
                return true;
            }
        }
        return false;
    }

    /** The total of {@code error replies: N (...)} in the {@code --stats} output. */
    private static long statsTotal(String stderr) {
        Matcher m = Pattern.compile("error replies: (\\d+)").matcher(stderr);
        long last = -1;
        while (m.find()) {
            last = Long.parseLong(m.group(1));
        }
        assertTrue(last >= 0, "no error replies line in --stats\n" + stderr);
        return last;
    }

    /** NBD error numbers, as the wire carries them. */
    private static final class NbdErrors {
        static final int EIO = 5;
        static final int ENOSPC = 28;
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import dev.loopdev.nbd.Nbd;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Several clients at once on one export, over the matrix {mapped, positional} x {none, XOR}: fio's nbd engine with
 * one connection per job verifying crc32c; an fsx-style checker whose connections share one region, ordering
 * only conflicting requests (as a file system would) and checking every read against a model; and unordered
 * overlapping writes racing, after which every sector must hold exactly one of the writes that covered it.
 */
class ConcurrentIntegrityIT {
    private static final int MiB = 1 << 20;
    private static final int SECTOR = 512;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void fioJobsOnSeparateConnectionsVerify(Variant v) {
        Path image = v.zeroDevice(dir, "disk.img", 32 * MiB);
        try (LoopdevServer server = LoopdevServer.unix(dir, image, v.options(dir))) {
            Tools.Result r = Tools.run(Duration.ofSeconds(90), Map.of(), List.of("fio", "--name=multi",
                    "--ioengine=nbd", "--uri=" + server.uri(), "--numjobs=4", "--size=8M", "--offset_increment=8M",
                    "--rw=randrw", "--bsrange=512-128k", "--iodepth=8", "--verify=crc32c", "--verify_fatal=1",
                    "--do_verify=1", "--randrepeat=1", "--randseed=777", "--group_reporting",
                    "--verify_state_save=0")).ok(); // no *-verify.state files in the working directory
            assertTrue(r.stdout().contains("READ: bw="), r.describe());
            server.stop();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void connectionsSharingARegionAgreeWithTheModel(Variant v) throws Exception {
        long seed = Seeds.seed(0xf5_0001L);
        int region = MiB;
        Path image = v.zeroDevice(dir, "disk.img", region);
        Model model = new Model(0, region);
        RangeLocks locks = new RangeLocks();
        try (LoopdevServer server = LoopdevServer.unix(dir, image, v.options(dir))) {
            runAll(seed, 4, conn -> {
                Random r = new Random(seed + conn);
                try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                    for (int op = 0; op < 1500; op++) {
                        fsxStep(c, r, model, locks, region);
                    }
                }
            });
            try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                model.assertMatches(0, c.read(0, region), "the region at the end");
            }
            server.stop();
        }
        // What SIGTERM flushed is what the model holds (decoded through the variant's transform).
        byte[] file = Images.readAll(image);
        Images.assertSameBytes(v.raw(model.expected(0, region), 0), file, "the backing file after stop");
    }

    /** One random operation, holding the client-side lock of its range from send to model update. */
    private static void fsxStep(NbdTestClient c, Random r, Model model, RangeLocks locks, int region)
            throws IOException, InterruptedException {
        int length = 1 + r.nextInt(r.nextInt(8) == 0 ? 128 * 1024 : 8192);
        long offset = r.nextInt(region - length + 1);
        int pick = r.nextInt(10);
        if (pick == 9) {
            assertEquals(0, c.flush(), "FLUSH");
            return;
        }
        locks.lock(offset, length);
        try {
            if (pick < 4) {
                model.assertMatches(offset, c.read(offset, length), "READ [" + offset + ", +" + length + ")");
            } else if (pick < 8) {
                byte[] data = new byte[length];
                r.nextBytes(data);
                assertEquals(0, c.write(offset, data, r.nextInt(8) == 0), "WRITE");
                model.write(offset, data);
            } else {
                short flags = (short) (r.nextBoolean() ? Nbd.CMD_FLAG_NO_HOLE : 0);
                assertEquals(0, c.call(flags, Nbd.CMD_WRITE_ZEROES, offset, length, null).error(),
                        "WRITE_ZEROES");
                model.zero(offset, length);
            }
        } finally {
            locks.unlock(offset, length);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void racingOverlappingWritesNeverTearASector(Variant v) throws Exception {
        long seed = Seeds.seed(0xf5_0002L);
        int sectors = 512; // 256 KiB: small, so writes collide often
        Path image = v.zeroDevice(dir, "disk.img", sectors * SECTOR);
        int writesPerConnection = 400;
        try (LoopdevServer server = LoopdevServer.unix(dir, image, v.options(dir))) {
            runAll(seed, 4, conn -> {
                Random r = new Random(seed + conn);
                try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                    // Pipelined, 8 in flight: the server is free to run them in any order.
                    for (int k = 0; k < writesPerConnection; k++) {
                        int count = 1 + r.nextInt(64);
                        int first = r.nextInt(sectors - count + 1);
                        long id = ((long) conn << 32) | k;
                        c.request(0, Nbd.CMD_WRITE, id + 1, (long) first * SECTOR, count * SECTOR,
                                tagged(id, first, count));
                        if (k >= 8) {
                            assertEquals(0, c.receive().error(), "WRITE");
                        }
                    }
                    for (int k = 0; k < 8; k++) {
                        assertEquals(0, c.receive().error(), "WRITE");
                    }
                }
            });
            try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                byte[] all = c.read(0, sectors * SECTOR);
                for (int s = 0; s < sectors; s++) {
                    assertWhole(all, s);
                }
            }
            server.stop();
        }
    }

    /** Sector contents naming the write and the sector, then bytes derived from both: a torn sector shows. */
    private static byte[] tagged(long id, int first, int count) {
        ByteBuffer b = ByteBuffer.allocate(count * SECTOR);
        for (int s = first; s < first + count; s++) {
            b.putLong(id).putInt(s).putInt(0x5ec7012);
            Random fill = new Random(id * 31 + s);
            byte[] rest = new byte[SECTOR - 16];
            fill.nextBytes(rest);
            b.put(rest);
        }
        return b.array();
    }

    private static void assertWhole(byte[] all, int sector) {
        ByteBuffer b = ByteBuffer.wrap(all, sector * SECTOR, SECTOR);
        long id = b.getLong();
        int s = b.getInt();
        int marker = b.getInt();
        if (s == 0 && marker == 0 && id == 0) {
            return; // never written: possible for a sector no write happened to cover
        }
        if (s != sector || marker != 0x5ec7012) {
            fail("sector " + sector + " holds the header of another sector or garbage: " + s);
        }
        byte[] expected = tagged(id, sector, 1);
        if (!java.util.Arrays.equals(expected, 0, SECTOR, all, sector * SECTOR, (sector + 1) * SECTOR)) {
            fail("sector " + sector + " is torn: it starts as write " + Long.toHexString(id) + " but differs later");
        }
    }

    interface Worker {
        void run(int index) throws Exception;
    }

    /** Runs {@code n} workers at once and waits for all, bounded; the first failure fails the test. */
    static void runAll(long seed, int n, Worker w) throws InterruptedException {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int index = i;
                fs.add(pool.submit(() -> {
                    w.run(index);
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                Seeds.reproducible(seed, "worker", () -> f.get(90, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    /** Client-side ordering of conflicting requests: a range is held by one operation at a time. */
    static final class RangeLocks {
        private final List<long[]> held = new ArrayList<>();

        synchronized void lock(long offset, long length) throws InterruptedException {
            while (held.stream().anyMatch(h -> h[0] < offset + length && offset < h[0] + h[1])) {
                wait();
            }
            held.add(new long[] {offset, length});
        }

        synchronized void unlock(long offset, long length) {
            held.removeIf(h -> h[0] == offset && h[1] == length);
            notifyAll();
        }
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * kill -9 of the server in the middle of a write storm, again and again: after each restart, nothing durable (and
 * nothing acknowledged at all) is lost and no sector is torn. The image lives on tmpfs, so iterations are fast.
 *
 * <p>What this proves, and what it does not: SIGKILL ends the process but not the kernel, so the page cache
 * survives. The test shows that the server acknowledges a write only once it is in the page cache (or the mapped
 * pages, which are the page cache) and that neither write path tears sectors or reorders a write past its
 * acknowledgement; it cannot show that FLUSH reaches the disk (a power cut would be needed for that).
 *
 * <p>Sector atomicity of a write in flight at the kill holds on the positional path only: the mapped path's
 * copy into the mapping can stop mid-sector (allowed here, and counted; no acknowledged write is involved).
 */
class CrashConsistencyIT {
    private static final int IMAGE_BYTES = 2 << 20;
    private static final int ITERATIONS = 13; // per variant: 52 kills in all
    private static final int CONNECTIONS = 3;

    private Path dir;

    @BeforeEach
    void tmpfs() throws IOException {
        dir = Files.createTempDirectory(Path.of("/dev/shm"), "loopdev-crash");
    }

    @AfterEach
    void clean() throws IOException {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    @Timeout(100)
    void killedMidStormLosesNothingAcknowledged(Variant v) throws Exception {
        long seed = Seeds.seed(0xc7a5_0001L);
        Random r = new Random(seed);
        Path image = v.zeroDevice(dir, "disk.img", IMAGE_BYTES);
        String[] options = v.options(dir);
        WriteHistory last = null;
        byte[] end = null;
        long acked = 0;
        int torn = 0;
        for (int i = 0; i <= ITERATIONS; i++) {
            try (LoopdevServer server = LoopdevServer.unix(dir, image, options)) {
                byte[] now;
                try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                    now = c.read(0, IMAGE_BYTES);
                }
                if (last != null) {
                    int iteration = i;
                    String violation = last.check(now, v.writePath().equals("mapped"));
                    assertNull(violation, () -> "after kill " + iteration + " (seed " + seed + ")");
                    torn += last.torn;
                    acked += last.counts()[0];
                }
                if (i == ITERATIONS) {
                    end = now;
                    server.stop();
                    break;
                }
                last = new WriteHistory(now);
                storm(server, last, seed * 31 + i, 50 + r.nextInt(400));
            }
        }
        assertTrue(acked > ITERATIONS * 100L, "only " + acked + " writes were acknowledged in all");
        System.out.println(v + ": " + acked + " sector writes acknowledged over " + ITERATIONS + " kills, "
                + torn + " sectors torn by a write in flight at the kill");
        // The backing file itself, read without the server, holds what the server read back.
        Images.assertSameBytes(v.raw(end, 0), Images.readAll(image), "the backing file after the last restart");
    }

    /** Writers on {@link #CONNECTIONS} connections for {@code millis}, then SIGKILL while they are still writing. */
    private static void storm(LoopdevServer server, WriteHistory h, long seed, long millis) throws Exception {
        AtomicBoolean killed = new AtomicBoolean();
        AtomicLong ids = new AtomicLong(seed << 20);
        List<Thread> writers = new ArrayList<>();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        int share = h.sectors() / CONNECTIONS;
        for (int c = 0; c < CONNECTIONS; c++) {
            NbdTestClient client = NbdTestClient.open(server.socket());
            int from = c * share;
            Random r = new Random(seed + c);
            Thread t = new Thread(() -> {
                try (client) {
                    for (int k = 0; k < 1_000_000 && !killed.get(); k++) {
                        writeOrFlush(client, h, r, ids, from, share, k);
                    }
                } catch (IOException e) {
                    if (!killed.get()) {
                        failures.add(e);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }, "storm-" + c);
            t.start();
            writers.add(t);
        }
        Thread.sleep(millis);
        killed.set(true);
        server.close(); // SIGKILL: no flush, no clean close
        for (Thread t : writers) {
            t.join(20_000);
            assertTrue(!t.isAlive(), "a writer hung after the kill");
        }
        if (!failures.isEmpty()) {
            throw new AssertionError("a writer failed before the kill", failures.get(0));
        }
    }

    private static void writeOrFlush(NbdTestClient c, WriteHistory h, Random r, AtomicLong ids, int from, int share,
                                     int k) throws IOException {
        if (k % 16 == 15) {
            int[] snapshot = h.flushIssued();
            assertEquals(0, c.flush(), "FLUSH");
            h.flushed(snapshot);
            return;
        }
        int count = 1 + r.nextInt(16);
        int first = from + r.nextInt(share - count + 1);
        boolean fua = r.nextInt(8) == 0;
        byte[] payload = h.issue(ids.getAndIncrement(), first, count);
        assertEquals(0, c.write((long) first * WriteHistory.SECTOR, payload, fua), "WRITE");
        h.acked(first, count, fua);
    }
}

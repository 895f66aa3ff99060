package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writers on a few connections, each over its own share of the device's sectors: writes of 1 to 16 sectors (one
 * in eight with FUA) and a FLUSH every sixteenth request, recorded in a {@link WriteHistory}, until something ends
 * the server under them. Before the end comes a tail without FLUSH (each writer has a few writes acknowledged
 * that no FLUSH followed), so that an end which loses what was not durable always has something to lose.
 */
final class WriteStorm {
    private static final int CONNECTIONS = 3;
    /** Writes each writer has acknowledged, after the last FLUSH, before the end. */
    private static final int TAIL_WRITES = 24;

    private WriteStorm() {
    }

    /** Runs the writers against the server at {@code socket} for {@code millis}, then {@code end}s it mid-write. */
    static void run(Path socket, WriteHistory h, long seed, long millis, Runnable end) throws Exception {
        AtomicBoolean ended = new AtomicBoolean();
        AtomicBoolean tail = new AtomicBoolean();
        java.util.concurrent.CountDownLatch tailDone = new java.util.concurrent.CountDownLatch(CONNECTIONS);
        AtomicLong ids = new AtomicLong(seed << 20);
        List<Thread> writers = new ArrayList<>();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        int share = h.sectors() / CONNECTIONS;
        for (int c = 0; c < CONNECTIONS; c++) {
            NbdTestClient client = NbdTestClient.open(socket);
            int from = c * share;
            Random r = new Random(seed + c);
            Thread t = new Thread(() -> {
                try (client) {
                    int tailWrites = 0;
                    for (int k = 0; k < 1_000_000 && !ended.get(); k++) {
                        if (!tail.get()) {
                            writeOrFlush(client, h, r, ids, from, share, k);
                        } else {
                            write(client, h, r, ids, from, share, false);
                            if (++tailWrites == TAIL_WRITES) {
                                tailDone.countDown();
                            }
                        }
                    }
                } catch (IOException | AssertionError e) {
                    if (!ended.get()) { // once the end has begun, a reply may be an error, or never come
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
        tail.set(true);
        tailDone.await(30, java.util.concurrent.TimeUnit.SECONDS); // a writer that failed never counts down
        ended.set(true);
        end.run();
        for (Thread t : writers) {
            t.join(20_000);
            assertTrue(!t.isAlive(), "a writer hung after the end");
        }
        if (!failures.isEmpty()) {
            throw new AssertionError("a writer failed before the end", failures.get(0));
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
        write(c, h, r, ids, from, share, r.nextInt(8) == 0);
    }

    private static void write(NbdTestClient c, WriteHistory h, Random r, AtomicLong ids, int from, int share,
                              boolean fua) throws IOException {
        int count = 1 + r.nextInt(16);
        int first = from + r.nextInt(share - count + 1);
        byte[] payload = h.issue(ids.getAndIncrement(), first, count);
        assertEquals(0, c.write((long) first * WriteHistory.SECTOR, payload, fua), "WRITE");
        h.acked(first, count, fua);
    }
}

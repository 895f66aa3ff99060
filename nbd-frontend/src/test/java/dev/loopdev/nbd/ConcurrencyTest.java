package dev.loopdev.nbd;

import dev.loopdev.nbd.testing.NbdTestClient;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Many requests in flight, out-of-order replies, clients that leave abruptly, back-pressure, shutdown. */
@Timeout(60)
class ConcurrencyTest {
    static final int SIZE = ServerFixture.SIZE;

    @TempDir
    Path dir;

    /** Inline threshold 0 sends everything through the pool, 1 MiB keeps it on the reader: both must be right. */
    @Test
    void pipelinedRequestsEachGetExactlyOneReply() throws IOException {
        for (int inline : new int[] {0, 1 << 20}) {
            Path d = dir.resolve("inline" + inline);
            Files.createDirectories(d);
            NbdServer.Tuning t = new NbdServer.Tuning(4, inline, 1 << 20, 8, 16, 60_000);
            try (ServerFixture fx = new ServerFixture(d, false, t)) {
                pipeline(fx, new Random(inline + 7));
            }
        }
    }

    /**
     * 300 requests in batches of 25 sent without waiting for replies, each batch on distinct 16 KiB slots (so the
     * order in which the server runs them cannot matter); the in-flight bounds (8 requests, 1 MiB) bite.
     */
    private static void pipeline(ServerFixture fx, Random rnd) throws IOException {
        byte[] model = fx.initial.clone();
        int slot = 16 << 10;
        Map<Long, Integer> expected = new HashMap<>(); // cookie -> payload bytes of the reply
        Map<Long, byte[]> reads = new HashMap<>();
        try (NbdTestClient c = fx.client(false)) {
            long cookie = 0;
            for (int batch = 0; batch < 12; batch++) {
                java.util.List<Integer> slots = new java.util.ArrayList<>();
                for (int i = 0; i < SIZE / slot; i++) {
                    slots.add(i);
                }
                java.util.Collections.shuffle(slots, rnd);
                for (int s : slots.subList(0, 25)) {
                    cookie++;
                    int len = 1 + rnd.nextInt(slot);
                    long off = (long) s * slot + rnd.nextInt(slot - len + 1);
                    if (rnd.nextBoolean()) {
                        byte[] data = new byte[len];
                        rnd.nextBytes(data);
                        c.request(rnd.nextInt(4) == 0 ? Nbd.CMD_FLAG_FUA : 0, Nbd.CMD_WRITE, cookie, off, len, data);
                        System.arraycopy(data, 0, model, (int) off, len);
                        expected.put(cookie, 0);
                    } else {
                        c.request(0, Nbd.CMD_READ, cookie, off, len, null);
                        expected.put(cookie, len);
                        reads.put(cookie, Arrays.copyOfRange(model, (int) off, (int) off + len));
                    }
                }
                drain(c, expected, reads);
            }
        }
        assertArrayEquals(model, Files.readAllBytes(fx.image));
    }

    private static void drain(NbdTestClient c, Map<Long, Integer> expected, Map<Long, byte[]> reads)
            throws IOException {
        while (!expected.isEmpty()) {
            // we cannot know the payload size before the cookie, so read the header by hand
            assertEquals(Nbd.SIMPLE_REPLY_MAGIC, c.in().readInt());
            int error = c.in().readInt();
            long cookie = c.in().readLong();
            Integer len = expected.remove(cookie);
            assertTrue(len != null, "a reply for cookie " + cookie + " that is not in flight");
            assertEquals(0, error);
            byte[] data = new byte[len];
            c.in().readFully(data);
            if (len > 0) {
                assertArrayEquals(reads.remove(cookie), data, "cookie " + cookie);
            }
        }
        reads.clear();
    }

    /**
     * Structured replies deferred by the reader and sent in batches: 200 pipelined requests on the reader (small
     * reads and writes on distinct slots), every one answered by exactly one final chunk of the right kind and
     * with the right data, whatever the batching did to the order.
     */
    @Test
    void deferredStructuredRepliesAreEachSentOnceAndWhole() throws IOException {
        NbdServer.Tuning t = new NbdServer.Tuning(2, 1 << 20, 8 << 20, 64, 16, 60_000);
        Random rnd = new Random(31);
        try (ServerFixture fx = new ServerFixture(dir, false, t); NbdTestClient c = fx.client(true)) {
            byte[] model = fx.initial.clone();
            int slot = SIZE / 256;
            Map<Long, byte[]> reads = new HashMap<>();
            java.util.Set<Long> writes = new java.util.HashSet<>();
            for (long cookie = 1; cookie <= 200; cookie++) {
                int s = (int) ((cookie * 37) % 256); // 200 distinct slots
                int len = 1 + rnd.nextInt(slot);
                long off = (long) s * slot;
                if (rnd.nextBoolean()) {
                    byte[] data = new byte[len];
                    rnd.nextBytes(data);
                    c.request(0, Nbd.CMD_WRITE, cookie, off, len, data);
                    System.arraycopy(data, 0, model, (int) off, len);
                    writes.add(cookie);
                } else {
                    c.request(0, Nbd.CMD_READ, cookie, off, len, null);
                    reads.put(cookie, Arrays.copyOfRange(model, (int) off, (int) off + len));
                }
            }
            while (!reads.isEmpty() || !writes.isEmpty()) {
                NbdTestClient.Chunk ch = c.reply();
                assertEquals(Nbd.REPLY_FLAG_DONE, ch.flags(), "one final chunk per request");
                if (writes.remove(ch.cookie())) {
                    assertEquals(NbdTestClient.SIMPLE_SUCCESS, ch.type(), "cookie " + ch.cookie());
                    assertEquals(0, ch.payload().length);
                } else {
                    byte[] want = reads.remove(ch.cookie());
                    assertTrue(want != null, "a reply for cookie " + ch.cookie() + " that is not in flight");
                    assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, ch.type(), "cookie " + ch.cookie());
                    assertArrayEquals(want, Arrays.copyOfRange(ch.payload(), 8, ch.payload().length),
                            "cookie " + ch.cookie());
                }
            }
            c.request(0, Nbd.CMD_FLUSH, 999, 0, 0, null);
            assertEquals(999, c.simpleReply(0).cookie());
            assertArrayEquals(model, Files.readAllBytes(fx.image));
        }
    }

    @Test
    void aClientThatDoesNotReadRepliesIsThrottledNotBuffered() throws IOException {
        NbdServer.Tuning t = new NbdServer.Tuning(2, 0, 4 << 20, 16, 16, 60_000);
        try (ServerFixture fx = new ServerFixture(dir, false, t); NbdTestClient c = fx.client(false)) {
            int n = 64;
            Thread sender = new Thread(() -> {
                try {
                    for (int i = 0; i < n; i++) {
                        c.request(0, Nbd.CMD_READ, i, 0, SIZE, null);
                    }
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            sender.start(); // 64 MiB of replies against a 4 MiB in-flight bound: stalls until we read
            for (int i = 0; i < n; i++) {
                NbdTestClient.SimpleReply r = c.simpleReply(SIZE);
                assertEquals(0, r.error());
                assertArrayEquals(fx.initial, r.data());
            }
            join(sender);
        }
    }

    /** Copying the payload first, a WRITE cut short is not applied at all (in place, see InPlaceTransferTest). */
    @Test
    void aClientThatVanishesMidWriteLeavesAcknowledgedDataIntact() throws IOException {
        try (ServerFixture fx = new ServerFixture(dir, false, NbdServer.Tuning.defaults().withInPlace(false))) {
            byte[] acked = new byte[8192];
            Arrays.fill(acked, (byte) 0x5a);
            try (NbdTestClient c = fx.client(false)) {
                c.request(0, Nbd.CMD_WRITE, 1, 0, acked.length, acked);
                assertEquals(0, c.simpleReply(0).error());
                c.request(0, Nbd.CMD_WRITE, 2, 65536, 8192, new byte[4096]); // half a payload, then gone
            }
            try (NbdTestClient c = fx.client(false)) {
                c.request(0, Nbd.CMD_READ, 3, 0, 8192, null);
                assertArrayEquals(acked, c.simpleReply(8192).data());
            }
            byte[] file = Files.readAllBytes(fx.image);
            assertArrayEquals(acked, Arrays.copyOf(file, 8192));
            assertArrayEquals(Arrays.copyOfRange(fx.initial, 65536, 65536 + 8192),
                    Arrays.copyOfRange(file, 65536, 65536 + 8192), "a partial write must not be applied");
        }
    }

    @Test
    void discFinishesWhatIsInFlightThenCloses() throws IOException {
        NbdServer.Tuning t = new NbdServer.Tuning(2, 0, 64 << 20, 64, 16, 60_000);
        try (ServerFixture fx = new ServerFixture(dir, false, t)) {
            byte[] data = new byte[SIZE];
            new Random(3).nextBytes(data);
            try (NbdTestClient c = fx.client(false)) {
                for (int i = 0; i < 16; i++) {
                    int chunk = SIZE / 16;
                    c.request(0, Nbd.CMD_WRITE, i, (long) i * chunk, chunk, Arrays.copyOfRange(data, i * chunk,
                            (i + 1) * chunk));
                }
                c.request(0, Nbd.CMD_DISC, 99, 0, 0, null);
                for (int i = 0; i < 16; i++) {
                    assertEquals(0, c.simpleReply(0).error());
                }
                assertTrue(c.closedByServer());
            }
            assertArrayEquals(data, Files.readAllBytes(fx.image));
        }
    }

    @Test
    void severalClientsAtOnce() throws Exception {
        try (ServerFixture fx = new ServerFixture(dir, false)) {
            Thread[] clients = new Thread[4];
            Throwable[] failure = new Throwable[1];
            for (int k = 0; k < clients.length; k++) {
                int region = k * (SIZE / clients.length);
                boolean structured = k % 2 == 0;
                clients[k] = new Thread(() -> {
                    try (NbdTestClient c = fx.client(structured)) {
                        byte[] data = new byte[SIZE / clients.length];
                        new Random(region).nextBytes(data);
                        c.request(0, Nbd.CMD_WRITE, 1, region, data.length, data);
                        readStatus(c, 1);
                        c.request(0, Nbd.CMD_FLUSH, 2, 0, 0, null);
                        readStatus(c, 2);
                    } catch (Throwable e) {
                        failure[0] = e;
                    }
                });
                clients[k].start();
            }
            for (Thread c : clients) {
                join(c);
            }
            if (failure[0] != null) {
                throw new AssertionError(failure[0]);
            }
            byte[] file = Files.readAllBytes(fx.image);
            for (int k = 0; k < clients.length; k++) {
                int n = SIZE / clients.length;
                byte[] data = new byte[n];
                new Random(k * n).nextBytes(data);
                assertArrayEquals(data, Arrays.copyOfRange(file, k * n, (k + 1) * n));
            }
        }
    }

    /** A write's or flush's success: a simple reply, with structured replies negotiated or not. */
    private static void readStatus(NbdTestClient c, long cookie) throws IOException {
        NbdTestClient.SimpleReply r = c.simpleReply(0);
        assertEquals(0, r.error());
        assertEquals(cookie, r.cookie());
    }

    private static void join(Thread t) {
        try {
            t.join(30_000);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        assertTrue(!t.isAlive(), t.getName() + " did not finish");
    }
}

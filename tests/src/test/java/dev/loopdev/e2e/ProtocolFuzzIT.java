package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import dev.loopdev.nbd.Nbd;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded malformed and adversarial clients against the real server process, for a bounded number of rounds and
 * time. Throughout, a bystander connection opened first holds known data (written with FUA before the fuzzing):
 * after every round the server must be alive, the bystander must still be served and read its data back intact,
 * and what the round touched must hold what the model says. Every few rounds nbdinfo must still connect.
 *
 * <p>The server's handshake limit is {@link #HANDSHAKE_LIMIT_SECONDS}: clients that stall or stay silent while
 * negotiating must be closed once it passes, never before, while the rounds go on; clients that negotiated and
 * then fell silent must never be.
 */
class ProtocolFuzzIT {
    private static final long MiB = 1 << 20;
    private static final long IMAGE_BYTES = 16 * MiB;
    private static final long BUDGET_NANOS = 25_000_000_000L;
    private static final int HANDSHAKE_LIMIT_SECONDS = 3;
    private static final long LIMIT_NANOS = HANDSHAKE_LIMIT_SECONDS * 1_000_000_000L;
    /** How late a close at the limit may come on a loaded host. */
    private static final long LATE_NANOS = 10_000_000_000L;

    @TempDir
    Path dir;

    private LoopdevServer server;
    private Path image;
    private NbdTestClient bystander;
    private final byte[] known = new byte[256 * 1024];

    @BeforeEach
    void serveAndWriteKnownData() throws IOException {
        image = Images.sparse(dir, "disk.img", IMAGE_BYTES);
        server = LoopdevServer.unix(dir, image, "--handshake-limit", Integer.toString(HANDSHAKE_LIMIT_SECONDS));
        bystander = NbdTestClient.open(server.socket());
        assertEquals(IMAGE_BYTES, bystander.exportSize());
        new Random(5).nextBytes(known);
        assertEquals(0, bystander.write(0, known, true), "FUA write of the known data");
    }

    @AfterEach
    void stop() {
        if (bystander != null) {
            bystander.close();
        }
        server.close();
    }

    @Test
    void fuzzedNegotiations() {
        long seed = Seeds.seed(0x5eed_0001L);
        Map<HandshakeFuzzer.Ending, Integer> endings = new EnumMap<>(HandshakeFuzzer.Ending.class);
        List<HandshakeFuzzer.Lingering> lingering = new ArrayList<>();
        long deadline = System.nanoTime() + BUDGET_NANOS;
        int rounds = 0;
        for (; rounds < 1000 && System.nanoTime() < deadline; rounds++) {
            int round = rounds;
            HandshakeFuzzer f = new HandshakeFuzzer(new Random(seed + round), IMAGE_BYTES, 0, slice(0, 4096));
            Seeds.reproducible(seed, "negotiation round " + round, () -> {
                try {
                    endings.merge(f.run(server.socket()), 1, Integer::sum);
                } catch (Throwable t) {
                    throw new AssertionError(String.join("\n", f.log) + "\n--- server log ---\n" + server.stderr(), t);
                }
                if (f.lingering() != null) {
                    lingering.add(f.lingering());
                }
                assertStillServing(round);
                lingering.removeIf(ProtocolFuzzIT::closedAtTheLimit);
            });
        }
        long end = System.nanoTime() + LIMIT_NANOS + LATE_NANOS;
        while (!lingering.isEmpty() && System.nanoTime() < end) {
            lingering.removeIf(ProtocolFuzzIT::closedAtTheLimit);
            Seeds.reproducible(seed, "waiting for the handshake limit", () -> Thread.sleep(50));
        }
        assertTrue(lingering.isEmpty(), () -> lingering.size() + " clients still open mid-handshake, e.g. "
                + lingering.get(0).what());
        assertTrue(rounds >= 50, "only " + rounds + " rounds in the time budget");
        assertEquals(HandshakeFuzzer.Ending.values().length, endings.size(), "every ending was tried: " + endings);
        stopCleanlyAndCheckTheFile();
    }

    /**
     * Whether the server has closed a client left mid-handshake: never before the limit, and not long after it
     * (fails then). Reads whatever it was sent (the greeting, perhaps) without waiting.
     */
    private static boolean closedAtTheLimit(HandshakeFuzzer.Lingering l) {
        long age = System.nanoTime() - l.sinceNanos();
        boolean closed;
        try {
            java.nio.ByteBuffer sink = java.nio.ByteBuffer.allocate(4096);
            int n;
            while ((n = l.client().channel().read(sink.clear())) > 0) {
                // what the server said before it stopped listening
            }
            closed = n < 0;
        } catch (IOException reset) {
            closed = true;
        }
        if (closed) {
            l.client().close();
            assertTrue(age >= LIMIT_NANOS, () -> l.what() + " was closed after " + age / 1_000_000
                    + " ms, before the handshake limit");
        } else {
            assertTrue(age < LIMIT_NANOS + LATE_NANOS, () -> l.what() + " still open after " + age / 1_000_000
                    + " ms");
        }
        return closed;
    }

    /**
     * The request fuzzer, next to a client that negotiated and then stays silent for the whole run (it must be
     * served at the end, long past the handshake limit) and one that connected and never negotiated (closed).
     */
    @Test
    void fuzzedRequests() throws IOException {
        NbdTestClient silentAfterGo = NbdTestClient.open(server.socket());
        long since = System.nanoTime();
        NbdTestClient silentBeforeGo = NbdTestClient.connect(server.socket());
        try {
            fuzzRequests();
            assertTrue(System.nanoTime() - since > LIMIT_NANOS, "the run was shorter than the handshake limit");
            assertArrayEquals(known, silentAfterGo.read(0, known.length), "a client silent since it negotiated");
            assertTrue(closedAtTheLimit(new HandshakeFuzzer.Lingering(silentBeforeGo, since, "a silent client")),
                    "a client that never negotiated is closed");
        } finally {
            silentAfterGo.close();
            silentBeforeGo.close();
        }
        stopCleanlyAndCheckTheFile();
    }

    private void fuzzRequests() {
        long seed = Seeds.seed(0x5eed_0002L);
        Model model = new Model(MiB, (int) (8 * MiB));
        Map<RequestFuzzer.Ending, Integer> endings = new EnumMap<>(RequestFuzzer.Ending.class);
        long deadline = System.nanoTime() + BUDGET_NANOS;
        int rounds = 0;
        for (; rounds < 300 && System.nanoTime() < deadline; rounds++) {
            int round = rounds;
            RequestFuzzer f = new RequestFuzzer(new Random(seed + round), model, IMAGE_BYTES);
            Seeds.reproducible(seed, "request round " + round, () -> {
                int socketsBefore = serverSockets();
                try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                    endings.merge(f.run(c), 1, Integer::sum);
                } catch (Throwable t) {
                    throw new AssertionError(String.join("\n", f.log) + "\n--- server log ---\n" + server.stderr(), t);
                }
                // A client that vanished left requests the server may still be running (a WRITE whose payload
                // it was receiving in place, say): the round is over when the server has closed its side, which
                // it does once they are done. Until then a late write could land on the next round's data.
                awaitServerSockets(socketsBefore, round);
                assertStillServing(round);
                for (long[] slot : f.touched()) {
                    model.assertMatches(slot[0], bystander.read(slot[0], (int) slot[1]), "after round " + round);
                }
            });
        }
        assertTrue(rounds >= 50, "only " + rounds + " rounds in the time budget");
        assertEquals(RequestFuzzer.Ending.values().length, endings.size(), "every ending was tried: " + endings);
        Seeds.reproducible(seed, "the whole model region", () -> model.assertMatches(MiB,
                bystander.read(MiB, (int) (8 * MiB)), "model region at the end"));
    }

    /** The server process's open sockets: the listener and a socket per client it still holds. */
    private int serverSockets() {
        int n = 0;
        try (var fds = Files.list(Path.of("/proc", Long.toString(server.pid()), "fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    n += Files.readSymbolicLink(fd).toString().startsWith("socket:") ? 1 : 0;
                } catch (IOException closedMeanwhile) {
                    // gone between the listing and the look
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return n;
    }

    private void awaitServerSockets(int atMost, int round) {
        long deadline = System.nanoTime() + 30_000_000_000L;
        int n;
        while ((n = serverSockets()) > atMost) {
            assertTrue(System.nanoTime() < deadline, "after round " + round + " the server still holds " + n
                    + " sockets, " + atMost + " before it: a connection never closed");
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    /**
     * Six connections each pipeline 2,000 requests (a write to each of 2,000 distinct sectors of its own MiB, with
     * reads of the known data and flushes in between) from one thread while another collects the replies, and
     * two vandals keep connecting, starting a write and vanishing mid-payload. Every request gets exactly one
     * reply, every read is right, and afterwards every sector holds what was written to it.
     */
    @Test
    void thousandsOfPipelinedRequestsOnManyConnections() throws Exception {
        long seed = Seeds.seed(0x5eed_0003L);
        int connections = 6;
        int requests = 2000;
        byte[][] written = new byte[connections][];
        var pool = java.util.concurrent.Executors.newFixedThreadPool(2 * connections + 2);
        try {
            List<Future<?>> all = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                int conn = i;
                NbdTestClient c = NbdTestClient.open(server.socket());
                written[i] = new byte[(int) MiB];
                // Cookie k + 1 is the k-th request; where each read reads is recorded before it is sent.
                Map<Long, Integer> readAt = new java.util.concurrent.ConcurrentHashMap<>();
                all.add(pool.submit(() -> {
                    Random r = new Random(seed + conn);
                    List<Integer> sectors = new ArrayList<>();
                    for (int s = 0; s < MiB / 512; s++) {
                        sectors.add(s);
                    }
                    java.util.Collections.shuffle(sectors, r);
                    for (int k = 0; k < requests; k++) {
                        long cookie = k + 1;
                        if (k % 10 == 9) {
                            int at = r.nextInt(known.length - 4096);
                            readAt.put(cookie, at);
                            c.request(0, Nbd.CMD_READ, cookie, at, 4096, null);
                        } else if (k % 50 == 49) {
                            c.request(0, Nbd.CMD_FLUSH, cookie, 0, 0, null);
                        } else {
                            byte[] data = new byte[512];
                            r.nextBytes(data);
                            int sector = sectors.get(k);
                            System.arraycopy(data, 0, written[conn], sector * 512, 512);
                            c.request(0, Nbd.CMD_WRITE, cookie, (conn + 1) * MiB + sector * 512L, 512,
                                    data);
                        }
                    }
                    return null;
                }));
                all.add(pool.submit(() -> {
                    try (c) {
                        java.util.Set<Long> answered = new java.util.HashSet<>();
                        for (int k = 0; k < requests; k++) {
                            NbdTestClient.SimpleReply reply = c.receive();
                            assertEquals(0, reply.error(), "error of cookie " + reply.cookie());
                            assertTrue(reply.cookie() >= 1 && reply.cookie() <= requests, "cookie " + reply.cookie());
                            assertTrue(answered.add(reply.cookie()), "cookie " + reply.cookie() + " answered twice");
                            Integer at = readAt.remove(reply.cookie());
                            if (at != null) {
                                assertArrayEquals(Images.slice(known, at, 4096), reply.data(), "known data at " + at);
                            }
                        }
                    }
                    return null;
                }));
            }
            for (int v = 0; v < 2; v++) {
                int vandal = v;
                all.add(pool.submit(() -> {
                    Random r = new Random(seed - 1 - vandal);
                    for (int k = 0; k < 50; k++) {
                        try (NbdTestClient c = NbdTestClient.open(server.socket())) {
                            c.send(0, Nbd.CMD_WRITE, 8 * MiB, 65536, null);
                            c.sendBytes(java.nio.ByteBuffer.allocate(r.nextInt(65536)));
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : all) {
                Seeds.reproducible(seed, "pipelined flood", () -> f.get(90, java.util.concurrent.TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
        assertStillServing(0);
        for (int i = 0; i < connections; i++) {
            Images.assertSameBytes(written[i], bystander.read((i + 1) * MiB, (int) MiB), "connection " + i + "'s MiB");
        }
        // The vandals' writes, cut short, may have landed as far as they arrived (zeros over zeros), nothing else.
        assertArrayEquals(new byte[65536], bystander.read(8 * MiB, 65536), "a write cut short left foreign bytes");
        stopCleanlyAndCheckTheFile();
    }

    /** The server is alive, the bystander still reads its data; every 25 rounds, nbdinfo connects too. */
    private void assertStillServing(int round) throws IOException {
        server.assertAlive();
        assertArrayEquals(known, bystander.read(0, known.length), "the bystander's data");
        if (round % 25 == 0) {
            String json = Tools.ok("nbdinfo", "--json", server.uri()).stdout();
            assertTrue(json.contains("\"export-size\": " + IMAGE_BYTES), json);
        }
    }

    private void stopCleanlyAndCheckTheFile() {
        bystander.close();
        bystander = null;
        server.stop();
        Images.assertSameBytes(known, Images.slice(Images.readAll(image), 0, known.length), "the file after stop");
    }

    private byte[] slice(int from, int length) {
        return Images.slice(known, from, length);
    }
}

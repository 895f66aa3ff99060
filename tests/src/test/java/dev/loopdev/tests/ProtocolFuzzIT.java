package dev.loopdev.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.Images;
import dev.loopdev.e2e.LoopdevServer;
import dev.loopdev.e2e.Tools;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded malformed and adversarial clients against the real server process, for a bounded number of rounds and
 * time. Throughout, a bystander connection opened first holds known data (written with FUA before the fuzzing):
 * after every round the server must be alive, the bystander must still be served and read its data back intact,
 * and what the round touched must hold what the model says. Every few rounds nbdinfo must still connect.
 */
class ProtocolFuzzIT {
    private static final long MiB = 1 << 20;
    private static final long IMAGE_BYTES = 16 * MiB;
    private static final long BUDGET_NANOS = 25_000_000_000L;

    @TempDir
    Path dir;

    private LoopdevServer server;
    private Path image;
    private NbdClient bystander;
    private final byte[] known = new byte[256 * 1024];

    @BeforeEach
    void serveAndWriteKnownData() throws IOException {
        image = Images.sparse(dir, "disk.img", IMAGE_BYTES);
        server = LoopdevServer.unix(dir, image);
        bystander = NbdClient.open(server.socket());
        assertEquals(IMAGE_BYTES, bystander.exportSize);
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
        long deadline = System.nanoTime() + BUDGET_NANOS;
        int rounds = 0;
        for (; rounds < 1000 && System.nanoTime() < deadline; rounds++) {
            int round = rounds;
            HandshakeFuzzer f = new HandshakeFuzzer(new Random(seed + round), IMAGE_BYTES, 0, slice(0, 4096));
            Seeds.reproducible(seed, "negotiation round " + round, () -> {
                try {
                    endings.merge(f.run(server.socket()), 1, Integer::sum);
                } catch (Throwable t) {
                    throw new AssertionError(String.join("\n", f.log), t);
                }
                assertStillServing(round);
            });
        }
        assertTrue(rounds >= 50, "only " + rounds + " rounds in the time budget");
        assertEquals(HandshakeFuzzer.Ending.values().length, endings.size(), "every ending was tried: " + endings);
        stopCleanlyAndCheckTheFile();
    }

    @Test
    void fuzzedRequests() {
        long seed = Seeds.seed(0x5eed_0002L);
        Model model = new Model(MiB, (int) (8 * MiB));
        Map<RequestFuzzer.Ending, Integer> endings = new EnumMap<>(RequestFuzzer.Ending.class);
        long deadline = System.nanoTime() + BUDGET_NANOS;
        int rounds = 0;
        for (; rounds < 300 && System.nanoTime() < deadline; rounds++) {
            int round = rounds;
            RequestFuzzer f = new RequestFuzzer(new Random(seed + round), model, IMAGE_BYTES);
            Seeds.reproducible(seed, "request round " + round, () -> {
                try (NbdClient c = NbdClient.open(server.socket())) {
                    endings.merge(f.run(c), 1, Integer::sum);
                } catch (Throwable t) {
                    throw new AssertionError(String.join("\n", f.log), t);
                }
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

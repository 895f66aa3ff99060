package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.nbd.Nbd;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients that break the protocol, from a raw socket: each broken connection is dropped, and the server keeps
 * serving the others with every acknowledged write intact. Nbdkit's tests do the same with nbdsh and socat.
 */
class RawProtocolIT {
    private static final int MiB = 1 << 20;

    @TempDir
    Path dir;

    private Path image;
    private LoopdevServer server;
    private NbdTestClient bystander;
    private final byte[] acked = new byte[64 * 1024];

    /** A server, a long-lived healthy connection, and 64 KiB written through it with FUA and acknowledged. */
    @BeforeEach
    void serveAndWrite() throws IOException {
        image = Images.sparse(dir, "disk.img", 8 * MiB);
        server = LoopdevServer.tcp(dir, image);
        new Random(21).nextBytes(acked);
        bystander = NbdTestClient.openExportName(server.uri(), "");
        assertEquals(8 * MiB, bystander.exportSize());
        assertEquals(0, bystander.write(MiB, acked, true));
    }

    @AfterEach
    void stop() {
        if (bystander != null) {
            bystander.close();
        }
        server.close(); // kills it if a test failed before stopping it
    }

    /** The healthy connection still works, a new one can be made, and both see the acknowledged bytes. */
    private void assertStillServing() throws IOException {
        server.assertAlive();
        assertArrayEquals(acked, bystander.read(MiB, acked.length), "acknowledged data, old connection");
        try (NbdTestClient fresh = NbdTestClient.openExportName(server.uri(), "")) {
            assertArrayEquals(acked, fresh.read(MiB, acked.length), "acknowledged data, new connection");
        }
    }

    private void stopCleanlyAndCheckTheFile() {
        bystander.close();
        server.stop();
        Images.assertSameBytes(acked, Images.slice(Images.readAll(image), MiB, acked.length), "file after stop");
    }

    @Test
    void garbageInsteadOfARequestDropsOnlyThatConnection() throws IOException {
        try (NbdTestClient c = NbdTestClient.openExportName(server.uri(), "")) {
            // More than one 28-byte request header of it, so the server has a whole bad header to judge.
            c.out().write("GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n"
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            c.out().flush();
            assertEquals(0, c.awaitClose(), "bad request magic");
        }
        assertStillServing();
        stopCleanlyAndCheckTheFile();
    }

    @Test
    void garbageDuringTheHandshakeDropsOnlyThatConnection() throws IOException {
        try (NbdTestClient c = NbdTestClient.connect(server.uri())) {
            c.greeting();
            c.out().writeInt(1); // fixed newstyle
            c.out().writeLong(0x0123456789abcdefL); // not IHAVEOPT
            c.out().writeInt(1);
            c.out().writeInt(0);
            c.out().flush();
            assertEquals(0, c.awaitClose(), "bad option magic");
        }
        try (NbdTestClient c = NbdTestClient.connect(server.uri())) {
            c.greeting(); // and hang up before answering it
        }
        assertStillServing();
        stopCleanlyAndCheckTheFile();
    }

    @Test
    void clientVanishingMidRequest() throws IOException {
        try (NbdTestClient c = NbdTestClient.openExportName(server.uri(), "")) {
            c.send(0, Nbd.CMD_WRITE, 4 * MiB, 64 * 1024, new byte[1000]); // 1000 of 65536 bytes
        }
        try (NbdTestClient c = NbdTestClient.openExportName(server.uri(), "")) {
            c.out().write(new byte[] {0x25, 0x60, (byte) 0x95, 0x13, 0, 0}); // 6 bytes of a 28-byte header
            c.out().flush();
        }
        try (NbdTestClient c = NbdTestClient.openExportName(server.uri(), "")) {
            // A read whose reply the client never collects: the server's write of the reply fails, nothing else.
            c.send(0, Nbd.CMD_READ, 0, 4 * MiB, null);
            c.channel().setOption(java.net.StandardSocketOptions.SO_LINGER, 0); // reset, not a polite close
        }
        assertStillServing();
        stopCleanlyAndCheckTheFile();
    }

    @Test
    void requestsAfterDiscAreNotServed() throws IOException {
        byte[] late = new byte[4096];
        java.util.Arrays.fill(late, (byte) 0x5c);
        try (NbdTestClient c = NbdTestClient.openExportName(server.uri(), "")) {
            assertEquals(0, c.write(2 * MiB, new byte[] {1, 2, 3}, false));
            c.send(0, Nbd.CMD_DISC, 0, 0, null);
            c.send(0, Nbd.CMD_WRITE, 3 * MiB, late.length, late);
            assertEquals(0, c.awaitClose(), "after NBD_CMD_DISC");
        }
        assertStillServing();
        assertArrayEquals(new byte[] {1, 2, 3}, bystander.read(2 * MiB, 3), "write before DISC");
        assertArrayEquals(new byte[4096], bystander.read(3 * MiB, 4096), "a write after DISC was applied");
        stopCleanlyAndCheckTheFile();
    }

    @Test
    void unknownCommandGetsAnErrorAndTheConnectionGoesOn() throws IOException {
        long cookie = bystander.send(0, (short) 99, 0, 512, null);
        NbdTestClient.SimpleReply reply = bystander.receive();
        assertEquals(cookie, reply.cookie());
        assertEquals(22, reply.error(), "NBD_EINVAL for an unknown command");
        assertEquals(0, bystander.flush());
        assertStillServing();
        stopCleanlyAndCheckTheFile();
    }

    @Test
    void manyRequestsInFlightEachGetExactlyOneReply() throws IOException {
        byte[] block = new byte[4096];
        int n = 64;
        long[] cookies = new long[n];
        for (int i = 0; i < n; i++) {
            java.util.Arrays.fill(block, (byte) i);
            cookies[i] = bystander.send(0, Nbd.CMD_WRITE, 5L * MiB + i * 4096L, 4096, block);
        }
        java.util.Set<Long> outstanding = new java.util.HashSet<>();
        for (long c : cookies) {
            outstanding.add(c);
        }
        for (int i = 0; i < n; i++) {
            assertEquals(Nbd.SIMPLE_REPLY_MAGIC, bystander.in().readInt());
            assertEquals(0, bystander.in().readInt(), "write error");
            long cookie = bystander.in().readLong();
            assertTrue(outstanding.remove(cookie), "a reply to cookie " + cookie + " not outstanding");
        }
        assertEquals(0, outstanding.size(), "unanswered cookies");
        for (int i = 0; i < n; i++) {
            java.util.Arrays.fill(block, (byte) i);
            assertArrayEquals(block, bystander.read(5L * MiB + i * 4096L, 4096), "block " + i);
        }
        assertStillServing();
        stopCleanlyAndCheckTheFile();
    }
}

package dev.loopdev.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.MemoryDevice;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Who gets in, and for how long, whatever the other clients do: the handshake limit (not extended by a trickle of
 * bytes), room made at the client limit by closing the client negotiating longest (never one in transmission), the
 * bounds on option haggling, and one thread for every client still negotiating.
 */
@Timeout(60)
class AdmissionTest {
    private static final int SIZE = 1 << 20;
    private final byte[] data = new byte[SIZE];
    private NbdServer server;
    private InetSocketAddress address;
    private final List<SocketChannel> sockets = new ArrayList<>();

    private void serve(int maxConnections, long handshakeMillis, int maxOptions, long maxOptionBytes)
            throws IOException {
        new Random(3).nextBytes(data);
        MemoryDevice device = new MemoryDevice(SIZE);
        device.write(ByteBuffer.wrap(data), 0, false);
        server = new NbdServer(new Export("disk", device), new NbdServer.Tuning(4, 1 << 20, 8 << 20, 64,
                maxConnections, handshakeMillis, maxOptions, maxOptionBytes));
        address = server.listenTcp(new InetSocketAddress("127.0.0.1", 0));
    }

    @AfterEach
    void stop() throws IOException {
        for (SocketChannel s : sockets) {
            s.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private SocketChannel idle() throws IOException {
        SocketChannel s = SocketChannel.open(address);
        sockets.add(s);
        return s;
    }

    /** An honest client: negotiates, reads 4 KiB and checks it; returns how long that took. */
    private long honestMillis() throws IOException {
        long t0 = System.nanoTime();
        try (NbdTestClient c = NbdTestClient.connect(address)) {
            c.go("disk", false);
            c.request(0, Nbd.CMD_READ, 7, 8192, 4096, null);
            NbdTestClient.SimpleReply r = c.simpleReply(4096);
            assertEquals(0, r.error());
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 8192, 8192 + 4096), r.data());
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    /** Whether the server closed {@code s} within {@code millis} (having read the greeting, if any). */
    private static boolean closedWithin(SocketChannel s, long millis) throws IOException {
        s.socket().setSoTimeout((int) millis);
        java.io.InputStream in = s.socket().getInputStream();
        long deadline = System.nanoTime() + millis * 1_000_000;
        try {
            while (System.nanoTime() < deadline) {
                if (in.read(new byte[64]) < 0) {
                    return true;
                }
            }
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset
        }
        return false;
    }

    @Test
    void aClientThatSendsNothingIsClosedAtTheHandshakeLimit() throws IOException {
        serve(100, 400, 256, 1 << 20);
        SocketChannel s = idle();
        long t0 = System.nanoTime();
        assertTrue(closedWithin(s, 5_000), "an idle client is closed");
        long took = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(took >= 300, "closed after " + took + " ms, before the limit");
        assertEquals(0, server.connectionCount(), "nothing left of it");
    }

    @Test
    void aTrickleOfBytesDoesNotExtendTheLimit() throws Exception {
        serve(100, 600, 256, 1 << 20);
        SocketChannel s = idle();
        ByteBuffer greeting = ByteBuffer.allocate(18);
        while (greeting.hasRemaining()) {
            s.read(greeting);
        }
        // client flags, then an option header, one byte every 100 ms: 2 s in all, well past the limit
        ByteBuffer trickle = ByteBuffer.allocate(20).putInt(3).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_LIST).putInt(0)
                .flip();
        long t0 = System.nanoTime();
        boolean cut = false;
        while (trickle.hasRemaining()) {
            try {
                s.write(ByteBuffer.wrap(new byte[] {trickle.get()}));
            } catch (IOException e) {
                cut = true;
                break;
            }
            Thread.sleep(100);
        }
        long took = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(cut || closedWithin(s, 100), "closed while it trickled");
        assertTrue(took < 1_900, "the trickle went on for " + took + " ms");
    }

    @Test
    void clientsNegotiatingNeverKeepOutAClientThatWould() throws IOException {
        serve(50, 30_000, 256, 1 << 20);
        for (int i = 0; i < 200; i++) {
            idle();
        }
        for (int i = 0; i < 5; i++) {
            honestMillis();
        }
        assertTrue(server.connectionCount() <= 50, server.connectionCount() + " connections held");
        assertTrue(closedWithin(sockets.get(0), 2_000), "the oldest idle client was closed to make room");
    }

    @Test
    void clientsInTransmissionAreNeverClosedToMakeRoom() throws IOException {
        serve(4, 30_000, 256, 1 << 20);
        List<NbdTestClient> served = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                NbdTestClient c = NbdTestClient.connect(address);
                c.go("disk", false);
                served.add(c);
            }
            SocketChannel late = idle();
            assertTrue(closedWithin(late, 5_000), "a fifth client is turned away");
            for (NbdTestClient c : served) {
                c.request(0, Nbd.CMD_READ, 1, 0, 512, null);
                assertEquals(0, c.simpleReply(512).error(), "a client in transmission is still served");
            }
        } finally {
            for (NbdTestClient c : served) {
                c.close();
            }
        }
    }

    @Test
    void optionHagglingIsBoundedInCountAndBytes() throws IOException {
        serve(100, 30_000, 8, 4096);
        try (NbdTestClient c = NbdTestClient.connect(address)) {
            c.greeting();
            c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE);
            for (int i = 0; i < 8; i++) {
                c.option(1000 + i, new byte[0]);
                assertEquals(Nbd.REP_ERR_UNSUP, c.optionReply().type(), "option " + i + " is answered");
            }
            c.option(2000, new byte[0]);
            assertTrue(c.closedByServer(), "the ninth option ends the negotiation");
        }
        try (NbdTestClient c = NbdTestClient.connect(address)) {
            c.greeting();
            c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE);
            c.option(1000, new byte[2000]);
            assertEquals(Nbd.REP_ERR_UNSUP, c.optionReply().type());
            c.option(1001, new byte[2100]); // 16 + 2000 + 16 + 2100 bytes: past 4096
            assertTrue(c.closedByServer(), "options past the byte bound end the negotiation");
        }
        honestMillis();
    }

    @Test
    void aThousandClientsNegotiatingHoldNoThreadOfTheirOwn() throws Exception {
        serve(4096, 30_000, 256, 1 << 20);
        honestMillis();
        int before = ManagementFactory.getThreadMXBean().getThreadCount();
        Random r = new Random(8);
        for (int i = 0; i < 1000; i++) {
            SocketChannel s = idle();
            if (i % 2 == 0) {
                // half of them get half way: the greeting read, flags and a piece of an option sent
                s.write(ByteBuffer.allocate(4 + 1 + r.nextInt(15)).putInt(1).position(0));
            }
        }
        long slowest = 0;
        for (int i = 0; i < 5; i++) {
            slowest = Math.max(slowest, honestMillis());
        }
        int during = ManagementFactory.getThreadMXBean().getThreadCount();
        assertTrue(during - before < 10, "threads: " + before + " before, " + during + " with 1000 clients");
        assertTrue(server.connectionCount() >= 1000, server.connectionCount() + " connections");
        for (SocketChannel s : sockets) {
            s.close();
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (server.connectionCount() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, server.connectionCount(), "every client that left is forgotten");
        System.out.println("slowest honest client among 1000 negotiating: " + slowest + " ms");
    }
}

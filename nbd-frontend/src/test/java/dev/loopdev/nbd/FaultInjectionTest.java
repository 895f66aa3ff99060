package dev.loopdev.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.Errno;
import dev.loopdev.FaultyDevice;
import dev.loopdev.MemoryDevice;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A device with a bad stretch for reads (EIO) and one that is out of space for writes (ENOSPC), nbdkit's error
 * filter at chosen offsets, under pipelined clients on several connections: exactly the requests that touch a bad
 * stretch get its error, every other one succeeds with the right data, the server goes on serving, the error
 * replies are counted by command and error, and once healed the device holds every acknowledged write and nothing
 * of a failed one.
 */
@Timeout(60)
class FaultInjectionTest {
    private static final int SIZE = 4 << 20;
    /** Connection c writes only [c * ZONE, (c + 1) * ZONE); the second half of the device is only ever read. */
    private static final int ZONE = 512 << 10;
    private static final long READ_ZONE = 2 << 20;
    private static final long BAD_READ = 3 << 20;
    private static final long BAD_WRITE = 2 * ZONE + ZONE / 2;
    private static final int BAD_BYTES = 64 << 10;

    private record Sent(int type, long offset, int length, byte[] data) {
    }

    @Test
    void onlyTheRequestsThatTouchABadStretchFailAndNothingElseIsHurt() throws Exception {
        byte[] model = new byte[SIZE];
        new Random(1).nextBytes(model);
        byte[] disk = model.clone();
        FaultyDevice device = new FaultyDevice(new MemoryDevice(disk, false))
                .failAt(FaultyDevice.Op.READ, BAD_READ, BAD_BYTES, Errno.EIO)
                .failAt(FaultyDevice.Op.WRITE, BAD_WRITE, BAD_BYTES, Errno.ENOSPC);
        AtomicInteger readErrors = new AtomicInteger();
        AtomicInteger writeErrors = new AtomicInteger();
        try (NbdServer server = new NbdServer(new Export("disk", device))) {
            InetSocketAddress address = server.listenTcp(new InetSocketAddress("127.0.0.1", 0));
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<Future<?>> all = new ArrayList<>();
            for (int conn = 0; conn < 4; conn++) {
                int c = conn;
                NbdTestClient client = NbdTestClient.connect(address);
                client.go("disk", false);
                Map<Long, Sent> sent = new ConcurrentHashMap<>();
                all.add(pool.submit(() -> {
                    Random r = new Random(100 + c);
                    for (int k = 0; k < 400; k++) {
                        int length = 512 * (1 + r.nextInt(64));
                        if (r.nextBoolean()) {
                            long offset = c * ZONE + 512L * r.nextInt((ZONE - length) / 512);
                            if (c == 2 && r.nextInt(4) == 0) {
                                offset = BAD_WRITE - length / 2; // straddles the edge of the bad stretch
                            }
                            byte[] data = new byte[length];
                            r.nextBytes(data);
                            sent.put(k + 1L, new Sent(Nbd.CMD_WRITE, offset, length, data));
                            client.request(0, Nbd.CMD_WRITE, k + 1, offset, length, data);
                        } else {
                            long offset = r.nextInt(8) == 0 ? BAD_READ - length / 2
                                    : READ_ZONE + 512L * r.nextInt((int) ((SIZE - READ_ZONE - length) / 512));
                            sent.put(k + 1L, new Sent(Nbd.CMD_READ, offset, length, null));
                            client.request(0, Nbd.CMD_READ, k + 1, offset, length, null);
                        }
                    }
                    return null;
                }));
                all.add(pool.submit(() -> {
                    try (client) {
                        for (int k = 0; k < 400; k++) {
                            NbdTestClient.SimpleReply reply = client.receive();
                            Sent s = sent.remove(reply.cookie());
                            assertNotNull(s, "a reply to cookie " + reply.cookie() + ", sent once");
                            check(s, reply, model, readErrors, writeErrors);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : all) {
                f.get(50, TimeUnit.SECONDS);
            }
            pool.shutdown();
            assertTrue(readErrors.get() > 0 && writeErrors.get() > 0, "the bad stretches were touched: "
                    + readErrors + " reads, " + writeErrors + " writes");
            assertEquals(readErrors.get() + writeErrors.get(), server.errorReplies().total(),
                    server.errorReplies().report());
            assertTrue(server.errorReplies().report().contains("READ EIO " + readErrors.get()),
                    server.errorReplies().report());
            assertTrue(server.errorReplies().report().contains("WRITE ENOSPC " + writeErrors.get()),
                    server.errorReplies().report());
            device.heal();
            try (NbdTestClient c = NbdTestClient.connect(address)) {
                c.go("disk", false);
                for (int at = 0; at < SIZE; at += 1 << 20) {
                    assertArrayEquals(java.util.Arrays.copyOfRange(model, at, at + (1 << 20)), c.read(at, 1 << 20),
                            "the device at " + at + " after healing");
                }
            }
        }
    }

    /**
     * A reply is an error exactly when its request touched a bad stretch of its kind; a successful write goes into
     * the model (each connection writes its own zone, in its own order, so the model is the device), and a successful
 * read of the zone nobody writes returns what the model holds.
     */
    private static void check(Sent s, NbdTestClient.SimpleReply reply, byte[] model, AtomicInteger readErrors,
                              AtomicInteger writeErrors) {
        long bad = s.type() == Nbd.CMD_READ ? BAD_READ : BAD_WRITE;
        boolean touches = s.offset() < bad + BAD_BYTES && bad < s.offset() + s.length();
        String what = (s.type() == Nbd.CMD_READ ? "READ" : "WRITE") + " [" + s.offset() + ", +" + s.length() + ")";
        if (touches) {
            assertEquals(s.type() == Nbd.CMD_READ ? Errno.EIO.code : Errno.ENOSPC.code, reply.error(), what);
            (s.type() == Nbd.CMD_READ ? readErrors : writeErrors).incrementAndGet();
            return;
        }
        assertEquals(0, reply.error(), what);
        if (s.type() == Nbd.CMD_WRITE) {
            synchronized (model) {
                System.arraycopy(s.data(), 0, model, (int) s.offset(), s.length());
            }
        } else {
            assertArrayEquals(java.util.Arrays.copyOfRange(model, (int) s.offset(), (int) s.offset() + s.length()),
                    reply.data(), what + ": the data");
        }
    }
}

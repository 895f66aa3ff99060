package dev.loopdev.nbd;

import dev.loopdev.nbd.testing.NbdTestClient;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.BlockDeviceException;
import dev.loopdev.Errno;
import dev.loopdev.FaultyDevice.Op;
import dev.loopdev.FaultyDevice;
import dev.loopdev.MemoryDevice;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every way a request can end gets exactly one reply, and gives back what it held: the server runs over an
 * in-memory device behind a fault injector, and each connection may hold one request in flight, so a request
 * that kept its charge would stall the next one (and the test, by its timeout), and a request answered twice
 * shows up as a reply nobody asked for before the connection's end.
 */
@Timeout(60)
class OneReplyPerRequestTest {
    private static final int SIZE = 1 << 20;
    private static final int MAX_INLINE_BYTES = 4096;
    /** One request in flight per connection: a leaked charge blocks the next admission for good. */
    private static final NbdServer.Tuning TIGHT = new NbdServer.Tuning(2, MAX_INLINE_BYTES, 1 << 20, 1, 8, 60_000);

    private final byte[] bytes = new byte[SIZE];
    private FaultyDevice device;
    private NbdServer server;
    private InetSocketAddress address;

    @BeforeEach
    void start() throws IOException {
        new Random(3).nextBytes(bytes);
        device = new FaultyDevice(new MemoryDevice(bytes, false));
        MemoryDevice readOnly = new MemoryDevice(new byte[SIZE], true);
        server = new NbdServer(List.of(new Export("rw", device), new Export("ro", readOnly)), TIGHT);
        address = server.listenTcp(new InetSocketAddress("127.0.0.1", 0));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** A reply as read off the wire, simple or a structured chunk. */
    private record Reply(long cookie, int error, int type, byte[] data) {
    }

    /** Reads one reply of either style; a successful simple reply to a READ carries {@code lengths.get(cookie)}. */
    private static Reply readReply(NbdTestClient c, Map<Long, Integer> readLengths) throws IOException {
        DataInputStream in = c.in();
        int magic = in.readInt();
        if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
            int error = in.readInt();
            long cookie = in.readLong();
            byte[] data = new byte[error == 0 ? readLengths.getOrDefault(cookie, 0) : 0];
            in.readFully(data);
            return new Reply(cookie, error, -1, data);
        }
        assertEquals(Nbd.STRUCTURED_REPLY_MAGIC, magic);
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        byte[] payload = new byte[in.readInt()];
        in.readFully(payload);
        assertEquals(Nbd.REPLY_FLAG_DONE, flags, "one chunk per reply");
        int error = type == Nbd.REPLY_TYPE_ERROR ? java.nio.ByteBuffer.wrap(payload).getInt() : 0;
        return new Reply(cookie, error, type, payload);
    }

    /** One request and the reply it must get. */
    private record Case(String what, int flags, int type, long offset, long length, byte[] payload, int error,
                        Op fault, Throwable failure) {
        static Case refused(String what, int flags, int type, long offset, long length, int error) {
            byte[] payload = type == Nbd.CMD_WRITE ? new byte[(int) Math.min(length, 1 << 16)] : null;
            return new Case(what, flags, type, offset, length, payload, error, null, null);
        }

        static Case failing(String what, int flags, int type, long length, Op fault, Throwable failure,
                            int error) {
            byte[] payload = type == Nbd.CMD_WRITE ? new byte[(int) length] : null;
            return new Case(what, flags, type, type == Nbd.CMD_FLUSH ? 0 : 8192, length, payload, error, fault,
                    failure);
        }
    }

    private static BlockDeviceException errno(Errno e) {
        return new BlockDeviceException(e, "injected " + e);
    }

    /** Each case sent alone and answered before the next, on a connection with simple replies. */
    @Test
    void everyErrorPathAnswersOnceAndReleases() throws IOException {
        List<Case> cases = List.of(
                Case.refused("unknown command", 0, 99, 0, 0, Errno.EINVAL.code),
                Case.refused("flag not valid for READ", Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_READ, 0, 512, Errno.EINVAL.code),
                Case.refused("FLUSH with a length", 0, Nbd.CMD_FLUSH, 0, 512, Errno.EINVAL.code),
                Case.refused("READ beyond the end", 0, Nbd.CMD_READ, SIZE - 1, 2, Errno.EINVAL.code),
                Case.refused("READ over the maximum", 0, Nbd.CMD_READ, 0, (32 << 20) + 1, Errno.EOVERFLOW.code),
                Case.refused("WRITE beyond the end (payload skipped)", 0, Nbd.CMD_WRITE, SIZE, 4096,
                        Errno.ENOSPC.code),
                Case.refused("BLOCK_STATUS without a meta context", 0, Nbd.CMD_BLOCK_STATUS, 0, 512,
                        Errno.EINVAL.code),
                Case.failing("READ on the reader fails", 0, Nbd.CMD_READ, 512, Op.READ, errno(Errno.EIO),
                        Errno.EIO.code),
                Case.failing("READ on a worker fails", 0, Nbd.CMD_READ, MAX_INLINE_BYTES * 4, Op.READ, errno(Errno.EIO),
                        Errno.EIO.code),
                Case.failing("READ hits a mapped page's fault", 0, Nbd.CMD_READ, 512, Op.READ,
                        new InternalError("a fault occurred in an unsafe memory access"), Errno.EIO.code),
                Case.failing("READ hits a bug", 0, Nbd.CMD_READ, MAX_INLINE_BYTES * 4, Op.READ,
                        new IllegalStateException("a bug"), Errno.EIO.code),
                Case.failing("WRITE on the reader fails", 0, Nbd.CMD_WRITE, 512, Op.WRITE, errno(Errno.ENOSPC),
                        Errno.ENOSPC.code),
                Case.failing("FUA WRITE on a worker fails", Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 512, Op.WRITE,
                        errno(Errno.EIO), Errno.EIO.code),
                Case.failing("WRITE with an I/O error from the JDK", 0, Nbd.CMD_WRITE, MAX_INLINE_BYTES * 2, Op.WRITE,
                        new IOException("No space left on device"), Errno.ENOSPC.code),
                Case.failing("FLUSH fails", 0, Nbd.CMD_FLUSH, 0, Op.FLUSH, errno(Errno.EIO), Errno.EIO.code),
                Case.failing("TRIM fails", 0, Nbd.CMD_TRIM, 4096, Op.TRIM, errno(Errno.EIO), Errno.EIO.code),
                Case.failing("WRITE_ZEROES fails", 0, Nbd.CMD_WRITE_ZEROES, 4096, Op.ZERO, errno(Errno.ENOSPC),
                        Errno.ENOSPC.code),
                Case.failing("FAST_ZERO cannot be fast", Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 4096,
                        Op.ZERO_FAST, errno(Errno.ENOTSUP), Errno.ENOTSUP.code),
                Case.failing("other ENOTSUP is EINVAL", 0, Nbd.CMD_WRITE_ZEROES, 4096, Op.ZERO,
                        errno(Errno.ENOTSUP), Errno.EINVAL.code),
                Case.failing("CACHE fails", 0, Nbd.CMD_CACHE, 4096, Op.READ, errno(Errno.EIO), Errno.EIO.code));
        byte[] before = bytes.clone();
        long cookie = 1000;
        try (NbdTestClient c = NbdTestClient.connect(address)) {
            c.go("rw", false);
            for (Case k : cases) {
                device.heal();
                if (k.fault() != null) {
                    device.fail(k.fault(), () -> k.failure());
                }
                cookie++;
                c.request(k.flags(), k.type(), cookie, k.offset(), k.length(), k.payload());
                Reply r = readReply(c, Map.of(cookie, (int) k.length()));
                assertEquals(cookie, r.cookie(), k.what());
                assertEquals(k.error(), r.error(), k.what());
                if (k.fault() != null) {
                    assertTrue(device.injected(k.fault()) > 0, k.what() + ": the fault was hit");
                }
                // The request gave its charge back: the next one is admitted (one in flight at most) and answered.
                device.heal();
                c.request(0, Nbd.CMD_READ, -cookie, 0, 512, null);
                Reply next = readReply(c, Map.of(-cookie, 512));
                assertEquals(-cookie, next.cookie(), "after " + k.what());
                assertEquals(0, next.error(), "after " + k.what());
            }
            assertNoFurtherReplies(c);
        }
        assertArrayEquals(before, bytes, "no failed or refused request changed the device");
    }

    @Test
    void refusalsOnAReadOnlyExport() throws IOException {
        try (NbdTestClient c = NbdTestClient.connect(address)) {
            c.go("ro", false);
            long cookie = 0;
            for (int type : new int[] {Nbd.CMD_WRITE, Nbd.CMD_TRIM, Nbd.CMD_WRITE_ZEROES}) {
                c.request(0, type, ++cookie, 0, 4096, type == Nbd.CMD_WRITE ? new byte[4096] : null);
                Reply r = readReply(c, Map.of());
                assertEquals(cookie, r.cookie());
                assertEquals(Errno.EPERM.code, r.error(), Nbd.commandName(type));
            }
            assertNoFurtherReplies(c);
        }
    }

    /** Structured replies: errors as chunks, BLOCK_STATUS failing, and reads deferred on the reader. */
    @Test
    void structuredErrorsIncludingBlockStatus() throws IOException {
        try (NbdTestClient c = NbdTestClient.connect(address)) {
            c.greeting();
            c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
            c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(Nbd.REP_ACK, c.optionReply().type());
            c.option(Nbd.OPT_SET_META_CONTEXT, NbdTestClient.metaContextRequest("rw", Nbd.BASE_ALLOCATION));
            assertEquals(Nbd.REP_ACK, c.optionReplies().get(1).type());
            c.goOnly("rw");

            device.fail(Op.EXTENTS, () -> errno(Errno.EIO));
            c.request(0, Nbd.CMD_BLOCK_STATUS, 1, 0, 4096, null);
            Reply r = readReply(c, Map.of());
            assertEquals(1, r.cookie());
            assertEquals(Nbd.REPLY_TYPE_ERROR, r.type());
            assertEquals(Errno.EIO.code, r.error());
            device.heal();
            c.request(0, Nbd.CMD_BLOCK_STATUS, 2, 0, 4096, null);
            assertEquals(Nbd.REPLY_TYPE_BLOCK_STATUS, readReply(c, Map.of()).type());

            device.fail(Op.READ, () -> errno(Errno.EIO));
            c.request(0, Nbd.CMD_READ, 3, 0, 512, null);
            r = readReply(c, Map.of());
            assertEquals(3, r.cookie());
            assertEquals(Nbd.REPLY_TYPE_ERROR, r.type());
            device.heal();
            c.request(0, Nbd.CMD_READ, 4, 0, 512, null);
            r = readReply(c, Map.of());
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, r.type());
            assertNoFurtherReplies(c);
        }
    }

    /**
     * Many requests in flight at once, on the reader and on workers, every third device call failing: each
     * cookie is answered once, with data exactly when it succeeded. A larger in-flight bound here, so that
     * successes on the reader are deferred into batches while errors go out at once.
     */
    @Test
    void pipelinedMixOfSuccessesAndFailures() throws Exception {
        server.close();
        server = new NbdServer(new Export("rw", device), new NbdServer.Tuning(2, MAX_INLINE_BYTES, 8 << 20, 64, 8, 60_000));
        address = server.listenTcp(new InetSocketAddress("127.0.0.1", 0));
        AtomicInteger calls = new AtomicInteger();
        java.util.function.Supplier<Throwable> everyThird =
                () -> calls.incrementAndGet() % 3 == 0 ? errno(Errno.EIO) : null;
        device.fail(Op.READ, everyThird).fail(Op.WRITE, everyThird).fail(Op.FLUSH, everyThird);
        Random rnd = new Random(11);
        int requests = 600;
        try (NbdTestClient c = NbdTestClient.connect(address)) {
            c.go("rw", false);
            Thread sender = new Thread(() -> {
                try {
                    for (int i = 0; i < requests; i++) {
                        int kind = rnd.nextInt(10);
                        int length = rnd.nextBoolean() ? 512 : MAX_INLINE_BYTES * 2;
                        long offset = rnd.nextInt(SIZE / 512 - 64) * 512L;
                        if (kind < 5) {
                            c.send(0, Nbd.CMD_READ, offset, length, null);
                        } else if (kind < 9) {
                            c.send(rnd.nextInt(4) == 0 ? Nbd.CMD_FLAG_FUA : 0, Nbd.CMD_WRITE, offset, length,
                                    new byte[length]);
                        } else {
                            c.send(0, Nbd.CMD_FLUSH, 0, 0, null);
                        }
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            sender.start();
            Map<Long, Integer> answers = new HashMap<>();
            int errors = 0;
            for (int i = 0; i < requests; i++) {
                NbdTestClient.SimpleReply r = c.receive(); // a READ's data comes with it when it succeeded
                errors += r.error() == 0 ? 0 : 1;
                assertTrue(r.error() == 0 || r.error() == Errno.EIO.code, "error " + r.error());
                answers.merge(r.cookie(), 1, Integer::sum);
            }
            sender.join();
            assertEquals(requests, answers.size(), "every cookie answered");
            assertTrue(answers.values().stream().allMatch(n -> n == 1), "and each once");
            assertTrue(errors > 0 && errors < requests, errors + " errors");
            device.heal();
            assertNoFurtherReplies(c);
        }
    }

    /** A WRITE whose payload never arrives whole gets no reply, and its connection still closes promptly. */
    @Test
    void aWriteCutShortIsAbandoned() throws Exception {
        byte[] before = bytes.clone();
        try (NbdTestClient c = NbdTestClient.connect(address)) {
            c.go("rw", false);
            c.request(0, Nbd.CMD_WRITE, 1, 0, 8192, new byte[100]);
            c.shutdownOutput();
            assertTrue(c.closedByServer());
        }
        long t0 = System.nanoTime();
        server.close(); // waits for every connection to drain: a leaked charge would hold it for a minute
        assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "the abandoned WRITE gave its charge back");
        assertArrayEquals(before, bytes, "the WRITE was never applied");
    }

    /** A request that a shut-down worker pool cannot take is answered ESHUTDOWN, once. */
    @Test
    void aRequestTheWorkersRefuseIsAnsweredShutdown() throws IOException {
        try (NbdTestClient c = NbdTestClient.connect(address)) {
            c.go("rw", false);
            server.workers().shutdown();
            c.request(0, Nbd.CMD_FLUSH, 7, 0, 0, null); // FLUSH never runs on the reader
            Reply r = readReply(c, Map.of());
            assertEquals(7, r.cookie());
            assertEquals(Errno.ESHUTDOWN.code, r.error());
            c.request(0, Nbd.CMD_READ, 8, 0, 512, null); // inline: still served
            assertEquals(0, readReply(c, Map.of(8L, 512)).error());
            assertNoFurtherReplies(c);
        }
    }

    /** Ends the session with DISC: everything the server still sends before closing is a reply too many. */
    private static void assertNoFurtherReplies(NbdTestClient c) throws IOException {
        c.disconnect();
        assertEquals(0, c.awaitClose(), "bytes after the last expected reply");
    }
}

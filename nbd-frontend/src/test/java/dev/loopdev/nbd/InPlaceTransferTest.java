package dev.loopdev.nbd;

import dev.loopdev.nbd.testing.NbdTestClient;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.loopdev.BlockDevice;
import dev.loopdev.ForwardingBlockDevice;
import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.SmallTmpfs;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * READ replies sent straight from the file's pages and WRITE payloads received straight into them: the bytes are
 * right, the lent pages really carried them, overlapping requests never see a torn sector, a client that vanishes
 * mid-payload leaves only its own range torn, and one that stalls while holding a range is disconnected.
 */
class InPlaceTransferTest {
    private static final int SECTOR = 512;

    @TempDir
    Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();

    /** Counts what the device lent, so that a test fails if the server quietly copied instead. */
    static final class LendCounter extends ForwardingBlockDevice {
        final AtomicInteger reads = new AtomicInteger();
        final AtomicInteger writes = new AtomicInteger();

        LendCounter(BlockDevice next) {
            super(next);
        }

        @Override
        public Lent lendForRead(long offset, int length) throws IOException {
            Lent l = super.lendForRead(offset, length);
            if (l != null) {
                reads.incrementAndGet();
            }
            return l;
        }

        @Override
        public LentForWrite lendForWrite(long offset, int length) throws IOException {
            LentForWrite l = super.lendForWrite(offset, length);
            if (l != null) {
                writes.incrementAndGet();
            }
            return l;
        }
    }

    private Path image(int size, long dataBytes, long seed) throws IOException {
        Path img = dir.resolve("disk-" + seed + ".img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(size); // sparse past dataBytes
            byte[] data = new byte[(int) dataBytes];
            new Random(seed).nextBytes(data);
            f.write(data);
        }
        return img;
    }

    private InetSocketAddress serve(BlockDevice device, NbdServer.Tuning tuning) throws IOException {
        NbdServer server = new NbdServer(new Export("disk", device), tuning);
        open.add(device);
        open.add(server); // closed first: the server before the device
        return server.listenTcp(new InetSocketAddress("127.0.0.1", 0));
    }

    private NbdTestClient client(InetSocketAddress a) throws IOException {
        NbdTestClient c = NbdTestClient.connect(a);
        c.go("disk", false);
        return c;
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    /**
     * A READ that touches a hole is copied, never lent: the mapping is read only where blocks are known to back
     * it, since reading a hole through a shared mapping allocates it (tmpfs keeps a zeroed page for good).
     */
    @Test
    void readsOfHolesAreNotLent() throws IOException {
        int size = 4 << 20;
        Path img = image(size, 1 << 20, 8); // [0, 1 MiB) data, then a hole
        byte[] model = Files.readAllBytes(img);
        LendCounter dev = new LendCounter(LoopDevice.open(LoopConfig.of(img)));
        InetSocketAddress a = serve(dev, NbdServer.Tuning.defaults().withInPlace(true));
        try (NbdTestClient c = client(a)) {
            c.request(0, Nbd.CMD_READ, 1, 0, 512 << 10, null);
            assertArrayEquals(Arrays.copyOf(model, 512 << 10), c.simpleReply(512 << 10).data());
            assertEquals(1, dev.reads.get(), "data: lent");
            c.request(0, Nbd.CMD_READ, 2, 768 << 10, 512 << 10, null);
            assertArrayEquals(Arrays.copyOfRange(model, 768 << 10, 1280 << 10), c.simpleReply(512 << 10).data());
            c.request(0, Nbd.CMD_READ, 3, 2 << 20, 1 << 20, null);
            assertArrayEquals(new byte[1 << 20], c.simpleReply(1 << 20).data());
            assertEquals(1, dev.reads.get(), "a range with a hole in it: copied");
        }
    }

    @Test
    void largeReadsAndWritesMoveThroughTheLentPages() throws IOException {
        int size = 4 << 20;
        Path img = image(size, size, 1);
        LendCounter dev = new LendCounter(LoopDevice.open(LoopConfig.of(img)));
        InetSocketAddress a = serve(dev, NbdServer.Tuning.defaults().withInPlace(true));
        byte[] model = Files.readAllBytes(img);
        Random rnd = new Random(2);
        int inPlaceWrites = 0;
        int inPlaceReads = 0;
        try (NbdTestClient c = client(a)) {
            int[] lengths = {1 << 20, 256 << 10, InPlace.READ_BYTES_MIN, 4096, 777, 3 << 20};
            long cookie = 0;
            for (int len : lengths) {
                // WRITEs that run on the reader are received in place (larger ones are copied on a worker);
                // READs from InPlace.READ_BYTES_MIN up are sent in place wherever they run.
                inPlaceWrites += len <= NbdServer.Tuning.defaults().maxInlineBytes() ? 1 : 0;
                long at = rnd.nextInt(size - len + 1);
                byte[] data = new byte[len];
                rnd.nextBytes(data);
                c.request(0, Nbd.CMD_WRITE, ++cookie, at, len, data);
                assertEquals(0, c.simpleReply(0).error());
                System.arraycopy(data, 0, model, (int) at, len);
                long from = Math.max(0, at - 1000);
                int n = (int) Math.min(size - from, len + 2000L);
                inPlaceReads += n >= InPlace.READ_BYTES_MIN ? 1 : 0;
                c.request(0, Nbd.CMD_READ, ++cookie, from, n, null);
                assertArrayEquals(Arrays.copyOfRange(model, (int) from, (int) from + n), c.simpleReply(n).data());
            }
        }
        assertArrayEquals(model, Files.readAllBytes(img));
        assertEquals(5, inPlaceWrites);
        assertEquals(4, inPlaceReads);
        assertEquals(inPlaceWrites, dev.writes.get(), "every WRITE on the reader was received in place");
        assertEquals(inPlaceReads, dev.reads.get(), "every READ from " + InPlace.READ_BYTES_MIN
                + " bytes up was sent in place");
    }

    @Test
    void structuredRepliesCarryLentDataToo() throws IOException {
        int size = 1 << 20;
        Path img = image(size, size, 3);
        LendCounter dev = new LendCounter(LoopDevice.open(LoopConfig.of(img)));
        InetSocketAddress a = serve(dev, NbdServer.Tuning.defaults().withInPlace(true));
        byte[] model = Files.readAllBytes(img);
        try (NbdTestClient c = NbdTestClient.connect(a)) {
            c.go("disk", true);
            c.request(0, Nbd.CMD_READ, 7, 4096, 512 << 10, null);
            NbdTestClient.Chunk chunk = c.chunk();
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, chunk.type());
            ByteBuffer p = ByteBuffer.wrap(chunk.payload());
            assertEquals(4096, p.getLong());
            byte[] data = new byte[p.remaining()];
            p.get(data);
            assertArrayEquals(Arrays.copyOfRange(model, 4096, 4096 + (512 << 10)), data);
        }
        assertEquals(1, dev.reads.get());
    }

    /**
     * Seed 000's question: a client that goes away in the middle of a payload being received into the file's
     * pages. Its range may hold part of its unacknowledged write; everything around it is untouched, and the part
     * of the range that was a hole, reserved for the write but never written, reads as zeros, not stale data.
     */
    @Test
    void aClientThatVanishesMidPayloadTearsOnlyItsOwnRange() throws Exception {
        int size = 4 << 20;
        int dataBytes = 1 << 20;
        Path img = image(size, dataBytes, 4); // [0, 1 MiB) data, then a hole
        byte[] before = Files.readAllBytes(img);
        LendCounter dev = new LendCounter(LoopDevice.open(LoopConfig.of(img)));
        InetSocketAddress a = serve(dev, NbdServer.Tuning.defaults().withInPlace(true));
        int at = 512 << 10;
        int len = 1 << 20; // half over data, half over the hole
        int sent = 300 << 10;
        byte[] payload = new byte[len];
        new Random(5).nextBytes(payload);
        try (NbdTestClient c = client(a)) {
            c.request(0, Nbd.CMD_WRITE, 1, at, len, Arrays.copyOf(payload, sent)); // then gone
        }
        // What arrived lands (in place); poll, since the server notices the end of the stream on its own time.
        byte[] file = before;
        for (long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10); System.nanoTime() < end; ) {
            file = Files.readAllBytes(img);
            if (Arrays.equals(payload, 0, sent, file, at, at + sent)) {
                break;
            }
            Thread.sleep(20);
        }
        assertArrayEquals(Arrays.copyOf(payload, sent), Arrays.copyOfRange(file, at, at + sent),
                "the part of the payload that arrived was received into the pages");
        assertEquals(1, dev.writes.get());
        assertArrayEquals(Arrays.copyOf(before, at), Arrays.copyOf(file, at), "below the range: untouched");
        assertArrayEquals(Arrays.copyOfRange(before, at + len, size), Arrays.copyOfRange(file, at + len, size),
                "above the range: untouched");
        assertArrayEquals(Arrays.copyOfRange(before, at + sent, at + len), Arrays.copyOfRange(file, at + sent, at + len),
                "the rest of the range: the old data, and zeros where it was a hole");
        try (NbdTestClient c = client(a)) { // and the server says the same
            c.request(0, Nbd.CMD_READ, 2, 0, size, null);
            assertArrayEquals(file, c.simpleReply(size).data());
        }
    }

    /**
     * A WRITE into a hole of a full file system: the pages are reserved before a byte of the payload is read into
     * them, so the client hears ENOSPC and nothing of the payload lands; the connection goes on (the payload was
     * read and dropped). Needs root, to mount a small tmpfs.
     */
    @Test
    void enospcIsAnsweredBeforeAByteOfTheReceiveLands() throws Exception {
        SmallTmpfs tmpfs = new SmallTmpfs(dir);
        Path mnt = tmpfs.dir;
        try {
            Path img = mnt.resolve("sparse.img");
            int size = 8 << 20;
            try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
                f.setLength(size);
            }
            LendCounter dev = new LendCounter(LoopDevice.open(LoopConfig.of(img)));
            InetSocketAddress a = serve(dev, NbdServer.Tuning.defaults().withInPlace(true));
            byte[] data = new byte[3 << 19]; // 1.5 MiB of the 2 MiB
            new Random(8).nextBytes(data);
            byte[] payload = new byte[1 << 20];
            Arrays.fill(payload, (byte) 0x5a);
            try (NbdTestClient c = client(a)) {
                for (int at = 0; at < data.length; at += 256 << 10) {
                    c.request(0, Nbd.CMD_WRITE, at, at, 256 << 10, Arrays.copyOfRange(data, at, at + (256 << 10)));
                    assertEquals(0, c.simpleReply(0).error());
                }
                c.request(0, Nbd.CMD_WRITE, 1, 4 << 20, payload.length, payload);
                NbdTestClient.SimpleReply r = c.simpleReply(0);
                assertEquals(1, r.cookie());
                assertEquals(28, r.error(), "NBD_ENOSPC");
                c.request(0, Nbd.CMD_READ, 2, 0, 256 << 10, null); // the connection goes on
                NbdTestClient.SimpleReply after = c.simpleReply(256 << 10);
                assertEquals(2, after.cookie());
                assertArrayEquals(Arrays.copyOf(data, 256 << 10), after.data());
            }
            byte[] file = Files.readAllBytes(img);
            assertArrayEquals(data, Arrays.copyOf(file, data.length));
            assertArrayEquals(new byte[size - data.length], Arrays.copyOfRange(file, data.length, size),
                    "no byte of the refused payload landed");
            assertTrue(dev.writes.get() >= 6, "the writes went in place");
        } finally {
            closeAll();
            open.clear();
            tmpfs.close();
        }
    }

    /**
     * Two writers and two readers on one small region, all through the lent pages: every sector a reader sees was
     * written whole by one WRITE (or is the initial pattern), never half one and half another.
     */
    @Test
    void overlappingReadsAndWritesNeverSeeATornSector() throws Exception {
        int region = 1 << 20;
        Path img = dir.resolve("stamps.img");
        ByteBuffer init = ByteBuffer.allocate(region).order(ByteOrder.LITTLE_ENDIAN);
        while (init.hasRemaining()) {
            init.putLong(-1L);
        }
        Files.write(img, init.array());
        LendCounter dev = new LendCounter(LoopDevice.open(LoopConfig.of(img)));
        InetSocketAddress a = serve(dev, NbdServer.Tuning.defaults().withInPlace(true));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger checkedSectors = new AtomicInteger();
        try {
            List<Future<?>> jobs = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                int writer = w;
                jobs.add(pool.submit(() -> {
                    Random rnd = new Random(10 + writer);
                    try (NbdTestClient c = client(a)) {
                        for (int i = 0; i < 200 && !stop.get(); i++) {
                            int sectors = 1 + rnd.nextInt(512);
                            int at = rnd.nextInt(region / SECTOR - sectors + 1) * SECTOR;
                            long stamp = ((long) writer << 32) | i;
                            ByteBuffer b = ByteBuffer.allocate(sectors * SECTOR).order(ByteOrder.LITTLE_ENDIAN);
                            while (b.hasRemaining()) {
                                b.putLong(stamp);
                            }
                            // The payload in two parts split inside a sector, a pause between: the range is
                            // held, half written, while the rest is on its way.
                            int split = rnd.nextInt(sectors) * SECTOR + 1 + rnd.nextInt(SECTOR - 1);
                            c.request(0, Nbd.CMD_WRITE, i, at, b.capacity(), Arrays.copyOf(b.array(), split));
                            Thread.sleep(1);
                            c.out().write(b.array(), split, b.capacity() - split);
                            c.out().flush();
                            assertEquals(0, c.simpleReply(0).error());
                        }
                    }
                    return null;
                }));
            }
            for (int r = 0; r < 2; r++) {
                int reader = r;
                jobs.add(pool.submit(() -> {
                    Random rnd = new Random(20 + reader);
                    try (NbdTestClient c = client(a)) {
                        for (int i = 0; i < 300 && !stop.get(); i++) {
                            int sectors = InPlace.READ_BYTES_MIN / SECTOR + rnd.nextInt(256);
                            int at = rnd.nextInt(region / SECTOR - sectors + 1) * SECTOR;
                            c.request(0, Nbd.CMD_READ, i, at, sectors * SECTOR, null);
                            NbdTestClient.SimpleReply reply = c.simpleReply(sectors * SECTOR);
                            assertEquals(0, reply.error());
                            ByteBuffer d = ByteBuffer.wrap(reply.data()).order(ByteOrder.LITTLE_ENDIAN);
                            for (int s = 0; s < sectors; s++) {
                                long first = d.getLong(s * SECTOR);
                                for (int k = 8; k < SECTOR; k += 8) {
                                    if (d.getLong(s * SECTOR + k) != first) {
                                        fail("sector " + (at / SECTOR + s) + " is torn: " + Long.toHexString(first)
                                                + " and " + Long.toHexString(d.getLong(s * SECTOR + k)));
                                    }
                                }
                            }
                            checkedSectors.addAndGet(sectors);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : jobs) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            stop.set(true);
            pool.shutdownNow();
        }
        assertTrue(dev.reads.get() == 600 && dev.writes.get() == 400, "reads " + dev.reads + ", writes " + dev.writes);
        assertTrue(checkedSectors.get() >= 600 * 128);
    }

    /**
     * A client that sends a WRITE's header and part of its payload, then neither finishes nor goes away, holds the
     * write's range: requests elsewhere go on, one that overlaps waits, and after the stall limit the client is
     * disconnected, which releases the range.
     */
    @Test
    void aClientStalledMidPayloadHoldsOnlyItsRangeAndOnlyUntilTheLimit() throws Exception {
        int size = 4 << 20;
        Path img = image(size, size, 6);
        byte[] before = Files.readAllBytes(img);
        LendCounter dev = new LendCounter(LoopDevice.open(LoopConfig.of(img)));
        long stallMillis = 1500;
        InetSocketAddress a = serve(dev, NbdServer.Tuning.defaults().withInPlace(true).withStallMillis(stallMillis));
        try (NbdTestClient staller = client(a); NbdTestClient other = client(a)) {
            staller.request(0, Nbd.CMD_WRITE, 1, 1 << 20, 1 << 20, new byte[100 << 10]); // 100 KiB of 1 MiB
            Thread.sleep(200); // the server takes the range and waits for the rest
            long t0 = System.nanoTime();
            other.request(0, Nbd.CMD_READ, 2, 3 << 20, 128 << 10, null); // elsewhere: not held up
            assertArrayEquals(Arrays.copyOfRange(before, 3 << 20, (3 << 20) + (128 << 10)),
                    other.simpleReply(128 << 10).data());
            assertTrue(System.nanoTime() - t0 < TimeUnit.MILLISECONDS.toNanos(stallMillis / 2),
                    "a request outside the stalled range did not wait for it");
            other.request(0, Nbd.CMD_READ, 3, (1 << 20) + (512 << 10), 4096, null); // inside: waits, then goes on
            NbdTestClient.SimpleReply r = other.simpleReply(4096);
            assertEquals(0, r.error());
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(stallMillis - 300),
                    "the overlapping read waited for the stalled write's range");
            assertTrue(staller.closedByServer(), "the stalled client was disconnected");
        }
    }

    /** A client that stops reading a lent READ's reply keeps writers of that range waiting until the limit. */
    @Test
    void aClientThatStopsReadingALentReplyIsDisconnectedAtTheLimit() throws Exception {
        int size = 32 << 20;
        Path img = image(size, size, 7);
        LendCounter dev = new LendCounter(LoopDevice.open(LoopConfig.of(img)));
        long stallMillis = 1500;
        InetSocketAddress a = serve(dev, NbdServer.Tuning.defaults().withInPlace(true).withStallMillis(stallMillis));
        SocketChannel raw = SocketChannel.open();
        raw.setOption(StandardSocketOptions.SO_RCVBUF, 4096);
        raw.connect(a);
        try (NbdTestClient staller = NbdTestClient.adopt(raw); NbdTestClient writer = client(a)) {
            staller.go("disk", false);
            staller.request(0, Nbd.CMD_READ, 1, 0, 24 << 20, null); // 24 MiB it will not read
            Thread.sleep(300);
            long t0 = System.nanoTime();
            writer.request(0, Nbd.CMD_WRITE, 2, 8 << 20, 4096, new byte[4096]);
            assertEquals(0, writer.simpleReply(0).error());
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(stallMillis - 500),
                    "the write waited for the range held by the unread reply");
            assertEquals(1, dev.reads.get());
            assertTrue(staller.closedByServer(), "the client that stopped reading was disconnected");
        }
    }
}

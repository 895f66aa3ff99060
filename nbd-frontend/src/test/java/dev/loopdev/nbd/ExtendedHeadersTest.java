package dev.loopdev.nbd;

import dev.loopdev.Errno;
import dev.loopdev.nbd.testing.NbdTestClient;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.XorTransform;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Extended headers (64-bit lengths, 32-byte requests and replies, BLOCK_STATUS_EXT) as current libnbd speaks
 * them, which no client installed here does; and FAST_ZERO, which must fail at once when zeroing means writing.
 */
class ExtendedHeadersTest {
    static final long GiB = 1L << 30;
    static final long SIZE = 6 * GiB; // sparse: lengths past 32 bits cost nothing

    @TempDir
    Path dir;

    private Path sparse(long size) throws IOException {
        Path image = dir.resolve("big.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(size);
        }
        return image;
    }

    private static NbdTestClient extended(InetSocketAddress address, String export) throws IOException {
        NbdTestClient c = NbdTestClient.connect(address);
        c.greeting();
        c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        c.option(Nbd.OPT_EXTENDED_HEADERS, new byte[0]);
        assertEquals(Nbd.REP_ACK, c.optionReply().type());
        c.option(Nbd.OPT_EXTENDED_HEADERS, new byte[0]);
        assertEquals(Nbd.REP_ERR_INVALID, c.optionReply().type(), "twice");
        c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
        assertEquals(Nbd.REP_ERR_EXT_HEADER_REQD, c.optionReply().type(), "structured after extended");
        c.option(Nbd.OPT_SET_META_CONTEXT, NbdTestClient.metaContextRequest(export, "base:allocation"));
        assertEquals(Nbd.REP_META_CONTEXT, c.optionReply().type());
        assertEquals(Nbd.REP_ACK, c.optionReply().type());
        int flags = c.goOnly(export);
        assertTrue((flags & Nbd.FLAG_SEND_DF) != 0);
        return c;
    }

    /**
     * Many small READs sent at once: their replies are deferred and batched on the reader, and with extended
     * headers each READ's header is 40 bytes (32 and the offset), more than a compact reply's. Every batch must
     * fit, and every READ get its reply.
     */
    @Test
    void pipelinedReadsWithExtendedHeadersAllGetTheirReplies() throws IOException {
        Path image = sparse(SIZE);
        int reads = 4 * ReplyWriter.MAX_DEFERRED_REPLIES + 40;
        try (LoopDevice dev = LoopDevice.open(LoopConfig.of(image));
             NbdServer server = new NbdServer(new Export("big", dev))) {
            InetSocketAddress address = server.listenTcp(new InetSocketAddress("127.0.0.1", 0));
            try (NbdTestClient c = extended(address, "big")) {
                for (int i = 0; i < reads; i++) {
                    c.extendedRequest(0, Nbd.CMD_READ, 100 + i, (long) i * 4096, 4096, null);
                }
                java.util.Set<Long> answered = new java.util.HashSet<>();
                for (int i = 0; i < reads; i++) {
                    NbdTestClient.ExtendedChunk r = c.extendedChunk();
                    assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, r.type(), "reply " + i);
                    assertEquals((r.cookie() - 100) * 4096, r.offset(), "the request's offset is echoed");
                    assertTrue(answered.add(r.cookie()), "cookie " + r.cookie() + " answered twice");
                }
                assertEquals(reads, answered.size());
                c.extendedRequest(0, Nbd.CMD_FLUSH, 1, 0, 0, null);
                assertEquals(Nbd.REPLY_TYPE_NONE, c.extendedChunk().type(), "the connection still serves");
            }
        }
    }

    @Test
    void sixtyFourBitLengthsAndExtendedReplies() throws IOException {
        Path image = sparse(SIZE);
        try (LoopDevice dev = LoopDevice.open(LoopConfig.of(image));
             NbdServer server = new NbdServer(new Export("big", dev))) {
            InetSocketAddress address = server.listenTcp(new InetSocketAddress("127.0.0.1", 0));
            try (NbdTestClient c = extended(address, "big")) {
                byte[] data = new byte[4096];
                Arrays.fill(data, (byte) 0x5a);
                c.extendedRequest(0, Nbd.CMD_WRITE, 1, 5 * GiB, data.length, data);
                NbdTestClient.ExtendedChunk w = c.extendedChunk();
                assertEquals(Nbd.REPLY_TYPE_NONE, w.type());
                assertEquals(5 * GiB, w.offset(), "the request's offset is echoed");

                c.extendedRequest(0, Nbd.CMD_READ, 2, 5 * GiB, data.length, null);
                NbdTestClient.ExtendedChunk r = c.extendedChunk();
                assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, r.type());
                ByteBuffer p = ByteBuffer.wrap(r.payload());
                assertEquals(5 * GiB, p.getLong());
                assertArrayEquals(data, Arrays.copyOfRange(r.payload(), 8, r.payload().length));

                c.extendedRequest(0, Nbd.CMD_BLOCK_STATUS, 3, 0, SIZE, null);
                NbdTestClient.ExtendedChunk bs = c.extendedChunk();
                assertEquals(Nbd.REPLY_TYPE_BLOCK_STATUS_EXT, bs.type());
                ByteBuffer b = ByteBuffer.wrap(bs.payload());
                assertEquals(Nbd.BASE_ALLOCATION_ID, b.getInt());
                int count = b.getInt();
                assertEquals(3, count);
                assertEquals(5 * GiB, b.getLong(), "one hole longer than 32 bits can say");
                assertEquals(3, b.getLong());
                assertEquals(4096, b.getLong());
                assertEquals(0, b.getLong());
                assertEquals(GiB - 4096, b.getLong());
                assertEquals(3, b.getLong());

                // A zero of 5 GiB in one request: only extended headers can ask for it.
                c.extendedRequest(Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 4, 0, 5 * GiB + 4096, null);
                assertEquals(Nbd.REPLY_TYPE_NONE, c.extendedChunk().type());
                c.extendedRequest(0, Nbd.CMD_READ, 5, 5 * GiB, 4096, null);
                assertArrayEquals(new byte[4096], Arrays.copyOfRange(c.extendedChunk().payload(), 8, 8 + 4096));

                c.extendedRequest(0, Nbd.CMD_READ, 6, 0, 33L << 20, null);
                NbdTestClient.ExtendedChunk big = c.extendedChunk();
                assertEquals(Nbd.REPLY_TYPE_ERROR, big.type());
                assertEquals(Errno.EOVERFLOW.code, ByteBuffer.wrap(big.payload()).getInt());
            }
        }
    }

    @Test
    void fastZeroFailsWithEnotsupUnderATransformAndWritesNothing() throws IOException {
        Path image = sparse(1 << 20);
        byte[] before = Files.readAllBytes(image);
        LoopConfig config = LoopConfig.of(image).withTransform(new XorTransform(new byte[] {1, 2, 3}));
        try (LoopDevice dev = LoopDevice.open(config); NbdServer server = new NbdServer(new Export("x", dev))) {
            InetSocketAddress address = server.listenTcp(new InetSocketAddress("127.0.0.1", 0));
            try (NbdTestClient c = NbdTestClient.connect(address)) {
                assertTrue((c.go("x", true) & Nbd.FLAG_SEND_FAST_ZERO) != 0);
                c.request(Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 1, 0, 65536, null);
                NbdTestClient.Chunk ch = c.chunk();
                assertEquals(Nbd.REPLY_TYPE_ERROR, ch.type());
                assertEquals(Errno.ENOTSUP.code, ByteBuffer.wrap(ch.payload()).getInt());
                c.request(0, Nbd.CMD_FLUSH, 2, 0, 0, null);
                assertEquals(0, c.simpleReply(0).error());
                assertArrayEquals(before, Files.readAllBytes(image), "a refused fast zero changes nothing");
                c.request(0, Nbd.CMD_WRITE_ZEROES, 3, 0, 65536, null); // the slow way still works
                assertEquals(0, c.simpleReply(0).error());
            }
        }
    }
}

package dev.loopdev.nbd;

import dev.loopdev.Errno;
import dev.loopdev.nbd.testing.NbdTestClient;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Meta contexts and BLOCK_STATUS (base:allocation) over a sparse image, with compact and structured replies. */
class BlockStatusTest {
    static final long MiB = 1 << 20;
    static final long SIZE = 4 * MiB;
    static final long DATA_AT = MiB;
    static final int DATA_BYTES = 64 << 10;

    @TempDir
    Path dir;
    LoopDevice device;
    NbdServer server;
    InetSocketAddress address;

    record Descriptor(long length, int state) {
    }

    @BeforeEach
    void serve() throws IOException {
        Path image = dir.resolve("sparse.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(SIZE);
            f.seek(DATA_AT);
            f.write(new byte[DATA_BYTES]); // zeros, but allocated: data as far as SEEK_DATA can tell
        }
        device = LoopDevice.open(LoopConfig.of(image));
        server = new NbdServer(new Export("sparse", device), NbdServer.Tuning.defaults());
        address = server.listenTcp(new InetSocketAddress("127.0.0.1", 0));
    }

    @AfterEach
    void close() throws IOException {
        server.close();
        device.close();
    }

    private NbdTestClient structuredClient() throws IOException {
        NbdTestClient c = NbdTestClient.connect(address);
        c.greeting();
        c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
        assertEquals(Nbd.REP_ACK, c.optionReply().type());
        return c;
    }

    private static List<String> contexts(List<NbdTestClient.OptionReply> replies, int wantId) {
        List<String> names = new ArrayList<>();
        for (NbdTestClient.OptionReply r : replies) {
            if (r.type() == Nbd.REP_META_CONTEXT) {
                ByteBuffer b = ByteBuffer.wrap(r.data());
                assertEquals(wantId, b.getInt());
                names.add(StandardCharsets.UTF_8.decode(b).toString());
            }
        }
        assertEquals(Nbd.REP_ACK, replies.get(replies.size() - 1).type());
        return names;
    }

    @Test
    void listsBaseAllocationForNoQueryTheNamespaceAndItsName() throws IOException {
        try (NbdTestClient c = structuredClient()) {
            for (String[] q : new String[][] {{}, {"base:"}, {"base:allocation"}, {"qemu:x", "base:allocation"}}) {
                c.option(Nbd.OPT_LIST_META_CONTEXT, NbdTestClient.metaContextRequest("sparse", q));
                assertEquals(List.of("base:allocation"), contexts(c.optionReplies(), 0), String.join(",", q));
            }
            c.option(Nbd.OPT_LIST_META_CONTEXT, NbdTestClient.metaContextRequest("sparse", "qemu:allocation-depth"));
            assertEquals(List.of(), contexts(c.optionReplies(), 0));
            c.option(Nbd.OPT_SET_META_CONTEXT, NbdTestClient.metaContextRequest("nosuch", "base:allocation"));
            assertEquals(Nbd.REP_ERR_UNKNOWN, c.optionReply().type());
            c.option(Nbd.OPT_SET_META_CONTEXT, new byte[] {0, 0, 0, 9});
            assertEquals(Nbd.REP_ERR_INVALID, c.optionReply().type());
        }
    }

    @Test
    void metaContextsNeedStructuredReplies() throws IOException {
        try (NbdTestClient c = NbdTestClient.connect(address)) {
            c.greeting();
            c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
            c.option(Nbd.OPT_SET_META_CONTEXT, NbdTestClient.metaContextRequest("sparse", "base:allocation"));
            assertEquals(Nbd.REP_ERR_INVALID, c.optionReply().type());
        }
    }

    @Test
    void blockStatusMapsHolesAndData() throws IOException {
        try (NbdTestClient c = structuredClient()) {
            c.option(Nbd.OPT_SET_META_CONTEXT, NbdTestClient.metaContextRequest("sparse", "base:allocation"));
            assertEquals(List.of("base:allocation"), contexts(c.optionReplies(), Nbd.BASE_ALLOCATION_ID));
            int flags = c.goOnly("sparse");
            assertTrue((flags & Nbd.FLAG_SEND_DF) != 0, "DF is offered with structured replies");

            c.request(0, Nbd.CMD_BLOCK_STATUS, 7, 0, SIZE, null);
            List<Descriptor> all = descriptors(c.chunk(), 7);
            assertEquals(List.of(new Descriptor(DATA_AT, 3), new Descriptor(DATA_BYTES, 0),
                    new Descriptor(SIZE - DATA_AT - DATA_BYTES, 3)), all);

            c.request(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_BLOCK_STATUS, 8, DATA_AT + 4096, SIZE - DATA_AT - 4096, null);
            assertEquals(List.of(new Descriptor(DATA_BYTES - 4096, 0)), descriptors(c.chunk(), 8));

            c.request(0, Nbd.CMD_BLOCK_STATUS, 9, 4096, 8192, null); // never past the range asked for
            assertEquals(List.of(new Descriptor(8192, 3)), descriptors(c.chunk(), 9));

            c.request(0, Nbd.CMD_BLOCK_STATUS, 10, 0, 0, null);
            assertEquals(Nbd.REPLY_TYPE_ERROR, c.chunk().type());

            c.request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 11, DATA_AT, 512, null); // DF: one chunk, as always
            NbdTestClient.Chunk read = c.chunk();
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, read.type());
            assertEquals(Nbd.REPLY_FLAG_DONE, read.flags());
            assertEquals(8 + 512, read.payload().length);
        }
    }

    @Test
    void contextSelectedForAnotherExportIsVoid() throws IOException {
        server.close();
        try (LoopDevice other = LoopDevice.open(LoopConfig.of(dir.resolve("sparse.img")).withReadOnly(true))) {
            server = new NbdServer(List.of(new Export("sparse", device), new Export("other", other)),
                    NbdServer.Tuning.defaults());
            address = server.listenTcp(new InetSocketAddress("127.0.0.1", 0));
            try (NbdTestClient c = structuredClient()) {
                c.option(Nbd.OPT_SET_META_CONTEXT, NbdTestClient.metaContextRequest("other", "base:allocation"));
                contexts(c.optionReplies(), Nbd.BASE_ALLOCATION_ID);
                c.goOnly("sparse");
                c.request(0, Nbd.CMD_BLOCK_STATUS, 1, 0, 4096, null);
                NbdTestClient.Chunk ch = c.chunk();
                assertEquals(Nbd.REPLY_TYPE_ERROR, ch.type());
                assertEquals(Errno.EINVAL.code, ByteBuffer.wrap(ch.payload()).getInt());
            }
            server.close();
        }
    }

    @Test
    void cacheReadsAheadAndChangesNothing() throws IOException {
        try (NbdTestClient c = structuredClient()) {
            assertTrue((c.goOnly("sparse") & Nbd.FLAG_SEND_CACHE) != 0);
            c.request(0, Nbd.CMD_CACHE, 3, 0, SIZE, null);
            NbdTestClient.SimpleReply done = c.simpleReply(0);
            assertEquals(0, done.error());
            assertEquals(3, done.cookie());
            c.request(0, Nbd.CMD_CACHE, 4, SIZE - 512, 1024, null);
            assertEquals(Nbd.REPLY_TYPE_ERROR, c.chunk().type());
        }
    }

    static List<Descriptor> descriptors(NbdTestClient.Chunk chunk, long cookie) {
        assertEquals(Nbd.REPLY_TYPE_BLOCK_STATUS, chunk.type(), "chunk type");
        assertEquals(cookie, chunk.cookie());
        assertEquals(Nbd.REPLY_FLAG_DONE, chunk.flags());
        ByteBuffer b = ByteBuffer.wrap(chunk.payload());
        assertEquals(Nbd.BASE_ALLOCATION_ID, b.getInt());
        List<Descriptor> out = new ArrayList<>();
        while (b.hasRemaining()) {
            out.add(new Descriptor(Integer.toUnsignedLong(b.getInt()), b.getInt()));
        }
        return out;
    }
}

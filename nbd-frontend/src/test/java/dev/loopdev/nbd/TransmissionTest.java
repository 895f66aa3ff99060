package dev.loopdev.nbd;

import dev.loopdev.Errno;
import dev.loopdev.nbd.testing.NbdTestClient;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Requests one at a time: the edge validation, the error codes, both reply styles. */
@Timeout(30)
class TransmissionTest {
    static final int SIZE = ServerFixture.SIZE;

    @TempDir
    Path dir;
    ServerFixture fx;

    @BeforeEach
    void start() throws IOException {
        fx = new ServerFixture(dir, false);
    }

    @AfterEach
    void stop() throws IOException {
        fx.close();
    }

    private static int error(NbdTestClient c, int flags, int type, long offset, long length, byte[] payload)
            throws IOException {
        c.request(flags, type, 77, offset, length, payload);
        NbdTestClient.SimpleReply r = c.simpleReply(type == Nbd.CMD_READ ? (int) length : 0);
        assertEquals(77, r.cookie());
        return r.error();
    }

    @Test
    void writesAreReadBackUnalignedAndDurable() throws IOException {
        byte[] data = new byte[10_000];
        new Random(1).nextBytes(data);
        try (NbdTestClient c = fx.client(false)) {
            assertEquals(0, error(c, Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 4001, data.length, data));
            c.request(0, Nbd.CMD_READ, 5, 4001, data.length, null);
            NbdTestClient.SimpleReply r = c.simpleReply(data.length);
            assertEquals(0, r.error());
            assertArrayEquals(data, r.data());
            assertEquals(0, error(c, 0, Nbd.CMD_FLUSH, 0, 0, null));
        }
        byte[] file = Files.readAllBytes(fx.image);
        assertArrayEquals(data, Arrays.copyOfRange(file, 4001, 4001 + data.length));
        assertArrayEquals(Arrays.copyOf(fx.initial, 4001), Arrays.copyOf(file, 4001));
    }

    @Test
    void structuredReadIsOneFinalDataChunk() throws IOException {
        try (NbdTestClient c = fx.client(true)) {
            c.request(0, Nbd.CMD_READ, 3, 512, 4096, null);
            NbdTestClient.Chunk k = c.chunk();
            assertEquals(3, k.cookie());
            assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, k.type());
            assertEquals(Nbd.REPLY_FLAG_DONE, k.flags());
            ByteBuffer p = ByteBuffer.wrap(k.payload());
            assertEquals(512, p.getLong());
            byte[] data = new byte[p.remaining()];
            p.get(data);
            assertArrayEquals(Arrays.copyOfRange(fx.initial, 512, 512 + 4096), data);
            c.request(0, Nbd.CMD_FLUSH, 4, 0, 0, null);
            NbdTestClient.SimpleReply ok = c.simpleReply(0); // a success other than READ: a simple reply
            assertEquals(0, ok.error());
            assertEquals(4, ok.cookie());
            c.request(0, Nbd.CMD_TRIM, 5, SIZE, 512, null); // past the end: an error, structured
            NbdTestClient.Chunk e = c.chunk();
            assertEquals(Nbd.REPLY_TYPE_ERROR, e.type());
            assertEquals(5, e.cookie());
        }
    }

    @Test
    void structuredErrorsCarryCodeAndMessage() throws IOException {
        try (NbdTestClient c = fx.client(true)) {
            c.request(0, Nbd.CMD_READ, 8, SIZE - 10, 20, null);
            NbdTestClient.Chunk k = c.chunk();
            assertEquals(8, k.cookie());
            assertEquals(Nbd.REPLY_TYPE_ERROR, k.type());
            assertEquals(Nbd.REPLY_FLAG_DONE, k.flags());
            ByteBuffer p = ByteBuffer.wrap(k.payload());
            assertEquals(Errno.EINVAL.code, p.getInt());
            int n = Short.toUnsignedInt(p.getShort());
            assertEquals(p.remaining(), n);
            assertTrue(StandardCharsets.UTF_8.decode(p).toString().contains("beyond the end"));
        }
    }

    @Test
    void rangesBeyondTheEnd() throws IOException {
        try (NbdTestClient c = fx.client(false)) {
            assertEquals(Errno.EINVAL.code, error(c, 0, Nbd.CMD_READ, SIZE - 1, 2, null));
            assertEquals(Errno.EINVAL.code, error(c, 0, Nbd.CMD_READ, -512L, 512, null)); // 2^64 - 512
            assertEquals(Errno.ENOSPC.code, error(c, 0, Nbd.CMD_WRITE, SIZE, 512, new byte[512]));
            assertEquals(Errno.ENOSPC.code, error(c, 0, Nbd.CMD_WRITE_ZEROES, SIZE - 512, 1024, null));
            assertEquals(Errno.EINVAL.code, error(c, 0, Nbd.CMD_TRIM, SIZE - 512, 1024, null));
            assertEquals(0, error(c, 0, Nbd.CMD_READ, SIZE - 512, 512, null)); // the last sector is fine
        }
        assertArrayEquals(fx.initial, Files.readAllBytes(fx.image));
    }

    @Test
    void commandsAndFlagsNotOffered() throws IOException {
        try (NbdTestClient c = fx.client(false)) {
            assertEquals(Errno.EINVAL.code, error(c, 0, Nbd.CMD_BLOCK_STATUS, 0, 512, null)); // no meta context
            assertEquals(Errno.EINVAL.code, error(c, Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_READ, 0, 512, null));
            assertEquals(Errno.EINVAL.code, error(c, Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_TRIM, 0, 512, null));
            assertEquals(Errno.EINVAL.code, error(c, 0, 999, 0, 0, null));
            assertEquals(Errno.EINVAL.code, error(c, 1 << 9, Nbd.CMD_READ, 0, 512, null));
            assertEquals(Errno.EINVAL.code, error(c, Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 0, 512, null)); // simple replies
            assertEquals(Errno.EINVAL.code, error(c, Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_WRITE, 0, 512, new byte[512]));
            assertEquals(Errno.EINVAL.code, error(c, 0, Nbd.CMD_FLUSH, 0, 512, null));
            assertEquals(0, error(c, Nbd.CMD_FLAG_FUA, Nbd.CMD_READ, 0, 512, null)); // FUA is valid on any
        }
        assertArrayEquals(fx.initial, Files.readAllBytes(fx.image));
    }

    @Test
    void oversizeRequests() throws IOException {
        int max = 32 << 20;
        try (NbdTestClient c = fx.client(false)) {
            assertEquals(Errno.EOVERFLOW.code, error(c, 0, Nbd.CMD_READ, 0, max + 1L, null));
            // a payload that is merely too big is read and dropped; the connection goes on
            assertEquals(Errno.EOVERFLOW.code, error(c, 0, Nbd.CMD_WRITE, 0, max + 4096L, new byte[max + 4096]));
            assertEquals(0, error(c, 0, Nbd.CMD_READ, 0, 4096, null));
            // trim and zero carry no payload: no size limit but the device's
            assertEquals(0, error(c, 0, Nbd.CMD_WRITE_ZEROES, 0, SIZE, null));
            // an absurd payload is not worth reading: that connection ends
            c.request(0, Nbd.CMD_WRITE, 1, 0, 0xffff_fff0L, null);
            assertTrue(c.closedByServer());
        }
        try (NbdTestClient c = fx.client(false)) {
            assertEquals(0, error(c, 0, Nbd.CMD_READ, 0, 512, null)); // the server goes on
        }
    }

    @Test
    void zeroLengthRequestsSucceed() throws IOException {
        try (NbdTestClient c = fx.client(false)) {
            for (int type : new int[] {Nbd.CMD_READ, Nbd.CMD_WRITE, Nbd.CMD_TRIM, Nbd.CMD_WRITE_ZEROES}) {
                assertEquals(0, error(c, 0, type, SIZE, 0, null), Nbd.commandName(type));
            }
        }
        try (NbdTestClient c = fx.client(true)) {
            c.request(0, Nbd.CMD_READ, 6, 100, 0, null);
            NbdTestClient.Chunk k = c.chunk();
            assertEquals(Nbd.REPLY_TYPE_NONE, k.type());
            assertEquals(Nbd.REPLY_FLAG_DONE, k.flags());
        }
    }

    @Test
    void zeroesAndTrim() throws IOException {
        try (NbdTestClient c = fx.client(false)) {
            assertEquals(0, error(c, 0, Nbd.CMD_WRITE_ZEROES, 1000, 9000, null));
            assertEquals(0, error(c, Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE_ZEROES, 65536, 8192,
                    null));
            assertEquals(0, error(c, Nbd.CMD_FLAG_FUA, Nbd.CMD_TRIM, 131072, 65536, null));
        }
        byte[] file = Files.readAllBytes(fx.image);
        assertArrayEquals(new byte[9000], Arrays.copyOfRange(file, 1000, 10_000));
        assertArrayEquals(new byte[8192], Arrays.copyOfRange(file, 65536, 65536 + 8192));
        assertArrayEquals(Arrays.copyOfRange(fx.initial, 10_000, 65536), Arrays.copyOfRange(file, 10_000, 65536));
    }

    @Test
    void readOnlyExportRefusesWritesWithEperm(@TempDir Path other) throws IOException {
        try (ServerFixture ro = new ServerFixture(other, true); NbdTestClient c = NbdTestClient.connect(ro.address)) {
            int flags = c.go("disk", false);
            assertEquals(Nbd.FLAG_READ_ONLY, flags & Nbd.FLAG_READ_ONLY);
            assertEquals(0, flags & (Nbd.FLAG_SEND_TRIM | Nbd.FLAG_SEND_WRITE_ZEROES));
            assertEquals(Errno.EPERM.code, error(c, 0, Nbd.CMD_WRITE, 0, 4096, new byte[4096]));
            assertEquals(Errno.EPERM.code, error(c, 0, Nbd.CMD_TRIM, 0, 4096, null));
            assertEquals(Errno.EPERM.code, error(c, 0, Nbd.CMD_WRITE_ZEROES, 0, 4096, null));
            assertEquals(0, error(c, 0, Nbd.CMD_READ, 0, 4096, null));
            assertEquals(0, error(c, 0, Nbd.CMD_FLUSH, 0, 0, null));
            assertArrayEquals(ro.initial, Files.readAllBytes(ro.image));
        }
    }

    @Test
    void garbageMagicClosesOnlyThatConnection() throws IOException {
        try (NbdTestClient good = fx.client(false); NbdTestClient bad = fx.client(false)) {
            bad.out().writeInt(0xdeadbeef);
            bad.out().write(new byte[24]);
            bad.out().flush();
            assertTrue(bad.closedByServer());
            assertEquals(0, error(good, 0, Nbd.CMD_READ, 0, 512, null));
        }
    }
}

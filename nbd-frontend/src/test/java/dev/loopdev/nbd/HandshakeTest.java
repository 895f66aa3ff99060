package dev.loopdev.nbd;

import dev.loopdev.nbd.testing.NbdTestClient;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class HandshakeTest {
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

    private NbdTestClient fixedNewstyle() throws IOException {
        NbdTestClient c = NbdTestClient.connect(fx.address);
        assertEquals(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES, c.greeting());
        c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        return c;
    }

    @Test
    void unknownOptionIsRefusedAndHagglingGoesOn() throws IOException {
        try (NbdTestClient c = fixedNewstyle()) {
            c.option(5 /* STARTTLS */, new byte[0]);
            assertEquals(Nbd.REP_ERR_UNSUP, c.optionReply().type());
            c.option(4242, new byte[] {1, 2, 3});
            NbdTestClient.OptionReply r = c.optionReply();
            assertEquals(4242, r.option());
            assertEquals(Nbd.REP_ERR_UNSUP, r.type());
            c.option(Nbd.OPT_GO, NbdTestClient.infoRequest("disk"));
            assertEquals(Nbd.REP_INFO, c.optionReply().type());
        }
    }

    @Test
    void goAnswersExportBlockSizeAndNameWhenAsked() throws IOException {
        try (NbdTestClient c = fixedNewstyle()) {
            c.option(Nbd.OPT_GO, NbdTestClient.infoRequest("", Nbd.INFO_NAME, Nbd.INFO_BLOCK_SIZE, 77));
            List<ByteBuffer> infos = new ArrayList<>();
            NbdTestClient.OptionReply r;
            while ((r = c.optionReply()).type() == Nbd.REP_INFO) {
                infos.add(ByteBuffer.wrap(r.data()));
            }
            assertEquals(Nbd.REP_ACK, r.type());
            assertEquals(3, infos.size());
            ByteBuffer export = infos.get(0);
            assertEquals(Nbd.INFO_EXPORT, export.getShort());
            assertEquals(ServerFixture.SIZE, export.getLong());
            int flags = Short.toUnsignedInt(export.getShort());
            int want = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_SEND_WRITE_ZEROES
                    | Nbd.FLAG_SEND_TRIM | Nbd.FLAG_CAN_MULTI_CONN | Nbd.FLAG_SEND_CACHE | Nbd.FLAG_SEND_FAST_ZERO;
            assertEquals(want, flags); // no DF: structured replies were not negotiated
            ByteBuffer name = infos.get(1);
            assertEquals(Nbd.INFO_NAME, name.getShort());
            assertEquals("disk", StandardCharsets.UTF_8.decode(name).toString());
            ByteBuffer bs = infos.get(2);
            assertEquals(Nbd.INFO_BLOCK_SIZE, bs.getShort());
            assertEquals(1, bs.getInt());
            assertEquals(4096, bs.getInt());
            assertEquals(32 << 20, bs.getInt());
            // in transmission now: a flush answers
            c.request(0, Nbd.CMD_FLUSH, 9, 0, 0, null);
            NbdTestClient.SimpleReply flushed = c.simpleReply(0);
            assertEquals(0, flushed.error());
            assertEquals(9, flushed.cookie());
        }
    }

    @Test
    void unknownExportIsErrUnknownForInfoAndGo() throws IOException {
        try (NbdTestClient c = fixedNewstyle()) {
            c.option(Nbd.OPT_INFO, NbdTestClient.infoRequest("nope"));
            assertEquals(Nbd.REP_ERR_UNKNOWN, c.optionReply().type());
            c.option(Nbd.OPT_GO, NbdTestClient.infoRequest("nope"));
            assertEquals(Nbd.REP_ERR_UNKNOWN, c.optionReply().type());
            c.option(Nbd.OPT_INFO, NbdTestClient.infoRequest("disk"));
            NbdTestClient.OptionReply r;
            while ((r = c.optionReply()).type() == Nbd.REP_INFO) {
                assertEquals(Nbd.OPT_INFO, r.option());
            }
            assertEquals(Nbd.REP_ACK, r.type());
        }
    }

    @Test
    void malformedInfoIsErrInvalid() throws IOException {
        try (NbdTestClient c = fixedNewstyle()) {
            byte[] good = NbdTestClient.infoRequest("disk", Nbd.INFO_NAME);
            byte[] truncated = java.util.Arrays.copyOf(good, good.length - 1);
            c.option(Nbd.OPT_INFO, truncated);
            assertEquals(Nbd.REP_ERR_INVALID, c.optionReply().type());
            c.option(Nbd.OPT_GO, new byte[] {0, 0, 0, 9, 0});
            assertEquals(Nbd.REP_ERR_INVALID, c.optionReply().type());
            c.option(Nbd.OPT_LIST, new byte[] {1});
            assertEquals(Nbd.REP_ERR_INVALID, c.optionReply().type());
        }
    }

    @Test
    void listNamesTheExport() throws IOException {
        try (NbdTestClient c = fixedNewstyle()) {
            c.option(Nbd.OPT_LIST, new byte[0]);
            NbdTestClient.OptionReply server = c.optionReply();
            assertEquals(Nbd.REP_SERVER, server.type());
            ByteBuffer d = ByteBuffer.wrap(server.data());
            assertEquals(4, d.getInt());
            assertEquals("disk", StandardCharsets.UTF_8.decode(d).toString());
            assertEquals(Nbd.REP_ACK, c.optionReply().type());
        }
    }

    @Test
    void exportNameHonoursNoZeroes() throws IOException {
        for (boolean noZeroes : new boolean[] {true, false}) {
            try (NbdTestClient c = NbdTestClient.connect(fx.address)) {
                c.greeting();
                c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | (noZeroes ? Nbd.FLAG_C_NO_ZEROES : 0));
                c.option(Nbd.OPT_EXPORT_NAME, "disk".getBytes(StandardCharsets.UTF_8));
                assertEquals(ServerFixture.SIZE, c.in().readLong());
                assertEquals(Nbd.FLAG_HAS_FLAGS, c.in().readUnsignedShort() & Nbd.FLAG_HAS_FLAGS);
                if (!noZeroes) {
                    byte[] zeros = new byte[124];
                    c.in().readFully(zeros);
                    assertArrayEquals(new byte[124], zeros);
                }
                // the next thing on the wire must be our reply to a READ, not stray zeros
                c.request(0, Nbd.CMD_READ, 1, 0, 16, null);
                NbdTestClient.SimpleReply r = c.simpleReply(16);
                assertEquals(0, r.error());
                assertArrayEquals(java.util.Arrays.copyOf(fx.initial, 16), r.data());
            }
        }
    }

    @Test
    void exportNameForAnUnknownExportClosesTheSession() throws IOException {
        try (NbdTestClient c = fixedNewstyle()) {
            c.option(Nbd.OPT_EXPORT_NAME, "nope".getBytes(StandardCharsets.UTF_8));
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void abortIsAcknowledged() throws IOException {
        try (NbdTestClient c = fixedNewstyle()) {
            c.option(Nbd.OPT_ABORT, new byte[0]);
            assertEquals(Nbd.REP_ACK, c.optionReply().type());
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void brokenHandshakesCloseOnlyThatConnection() throws IOException {
        try (NbdTestClient unknownFlags = NbdTestClient.connect(fx.address)) {
            unknownFlags.greeting();
            unknownFlags.clientFlags(1 << 7);
            assertTrue(unknownFlags.closedByServer());
        }
        try (NbdTestClient hugeOption = fixedNewstyle()) {
            hugeOption.out().writeLong(Nbd.IHAVEOPT);
            hugeOption.out().writeInt(Nbd.OPT_GO);
            hugeOption.out().writeInt(1 << 30);
            hugeOption.out().flush();
            assertTrue(hugeOption.closedByServer());
        }
        try (NbdTestClient badMagic = fixedNewstyle()) {
            badMagic.out().writeLong(0x1234);
            badMagic.out().writeInt(Nbd.OPT_LIST);
            badMagic.out().writeInt(0);
            badMagic.out().flush();
            assertTrue(badMagic.closedByServer());
        }
        try (NbdTestClient c = fx.client(true)) {
            c.request(0, Nbd.CMD_FLUSH, 1, 0, 0, null);
            assertEquals(0, c.simpleReply(0).error());
        }
    }
}

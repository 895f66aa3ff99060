package dev.loopdev.nbd;

import dev.loopdev.nbd.testing.NbdTestClient;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Arrays;
import org.bouncycastle.tls.BasicTlsPSKIdentity;
import org.bouncycastle.tls.PSKTlsClient;
import org.bouncycastle.tls.TlsClientProtocol;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** STARTTLS with pre-shared keys, against Bouncy Castle's PSK client; and what --tls require refuses. */
class TlsTest {
    static final byte[] KEY = hex("0123456789abcdef0123456789abcdef");

    @TempDir
    Path dir;
    ServerFixture fx;

    @BeforeEach
    void serve() throws IOException {
        fx = new ServerFixture(dir, false);
        Path keys = dir.resolve("keys.psk");
        Files.writeString(keys, "alice:0123456789abcdef0123456789abcdef\nbob:00ff\n");
        fx.server.tls(TlsMode.REQUIRE, TlsCredentials.psk(keys));
    }

    @AfterEach
    void close() throws IOException {
        fx.close();
    }

    private NbdTestClient plain() throws IOException {
        NbdTestClient c = NbdTestClient.connect(fx.address);
        c.greeting();
        c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
        return c;
    }

    private static void startTls(NbdTestClient c, String identity, byte[] key) throws IOException {
        c.option(Nbd.OPT_STARTTLS, new byte[0]);
        assertEquals(Nbd.REP_ACK, c.optionReply().type());
        TlsClientProtocol tls = new TlsClientProtocol(c.in(), c.out());
        tls.connect(new PSKTlsClient(new BcTlsCrypto(new SecureRandom()),
                new BasicTlsPSKIdentity(identity.getBytes(StandardCharsets.UTF_8), key)));
        c.useStreams(tls.getInputStream(), tls.getOutputStream());
    }

    @Test
    void requireRefusesEverythingButStartTlsAndAbort() throws IOException {
        try (NbdTestClient c = plain()) {
            for (int option : new int[] {Nbd.OPT_LIST, Nbd.OPT_GO, Nbd.OPT_INFO, Nbd.OPT_STRUCTURED_REPLY,
                    Nbd.OPT_SET_META_CONTEXT, Nbd.OPT_EXTENDED_HEADERS}) {
                c.option(option, option == Nbd.OPT_GO || option == Nbd.OPT_INFO
                        ? NbdTestClient.infoRequest("disk") : new byte[0]);
                assertEquals(Nbd.REP_ERR_TLS_REQD, c.optionReply().type(), "option " + option);
            }
            c.option(Nbd.OPT_STARTTLS, new byte[] {1});
            assertEquals(Nbd.REP_ERR_INVALID, c.optionReply().type(), "STARTTLS with data");
            c.option(Nbd.OPT_ABORT, new byte[0]);
            assertEquals(Nbd.REP_ACK, c.optionReply().type());
        }
    }

    @Test
    void pskSessionReadsAndWritesOverTls() throws IOException {
        try (NbdTestClient c = plain()) {
            startTls(c, "alice", KEY);
            c.option(Nbd.OPT_STARTTLS, new byte[0]);
            assertEquals(Nbd.REP_ERR_INVALID, c.optionReply().type(), "STARTTLS twice");
            c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(Nbd.REP_ACK, c.optionReply().type());
            c.goOnly("disk");
            byte[] data = new byte[256 << 10];
            Arrays.fill(data, (byte) 0xa5);
            c.request(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 1, 4096, data.length, data);
            assertEquals(0, c.simpleReply(0).error());
            c.request(0, Nbd.CMD_READ, 2, 4096, data.length, null);
            NbdTestClient.Chunk r = c.chunk();
            assertArrayEquals(data, Arrays.copyOfRange(r.payload(), 8, r.payload().length));
        }
        byte[] onDisk = Files.readAllBytes(fx.image);
        assertEquals((byte) 0xa5, onDisk[4096]);
        assertEquals(fx.initial[4095], onDisk[4095]);
    }

    @Test
    void wrongKeyOrUnknownIdentityEndsTheConnection() throws IOException {
        for (String identity : new String[] {"alice", "mallory"}) {
            try (NbdTestClient c = plain()) {
                assertThrows(IOException.class, () -> startTls(c, identity, hex("ffffffffffffffffffffffffffffffff")));
            }
        }
    }

    static byte[] hex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }
}

package dev.loopdev.nbd;

import dev.loopdev.nbd.testing.NbdTestClient;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class UnixSocketTest {
    @TempDir
    Path dir;
    Path socket;
    LoopDevice device;
    NbdServer server;

    @BeforeEach
    void open() throws IOException {
        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[65536]);
        device = LoopDevice.open(LoopConfig.of(image));
        server = new NbdServer(new Export("", device));
        socket = dir.resolve("nbd.sock");
    }

    @AfterEach
    void close() throws IOException {
        server.close();
        device.close();
    }

    @Test
    void servesAndRemovesItsSocketOnClose() throws IOException {
        server.listenUnix(socket);
        try (NbdTestClient c = NbdTestClient.connect(UnixDomainSocketAddress.of(socket))) {
            c.go("", false);
            byte[] data = "over a unix socket".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            c.request(0, Nbd.CMD_WRITE, 1, 100, data.length, data);
            assertEquals(0, c.simpleReply(0).error());
            c.request(0, Nbd.CMD_READ, 2, 100, data.length, null);
            assertArrayEquals(data, c.simpleReply(data.length).data());
            server.close(); // with the client still connected: it is told by a close, and the file goes
            assertTrue(c.closedByServer());
        }
        assertFalse(Files.exists(socket));
    }

    @Test
    void aStaleSocketIsReplaced() throws IOException {
        try (ServerSocketChannel old = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            old.bind(UnixDomainSocketAddress.of(socket));
        } // closed, file left behind: what a killed server leaves
        assertTrue(Files.exists(socket));
        server.listenUnix(socket);
        try (NbdTestClient c = NbdTestClient.connect(UnixDomainSocketAddress.of(socket))) {
            assertEquals(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES, c.greeting());
        }
    }

    @Test
    void aLiveSocketOrAnyOtherFileIsLeftAlone() throws IOException {
        try (ServerSocketChannel live = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            live.bind(UnixDomainSocketAddress.of(socket));
            IOException e = assertThrows(IOException.class, () -> server.listenUnix(socket));
            assertTrue(e.getMessage().contains("already listening"), e.getMessage());
        }
        Path file = dir.resolve("not-a-socket");
        Files.writeString(file, "precious");
        IOException e = assertThrows(IOException.class, () -> server.listenUnix(file));
        assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
        assertEquals("precious", Files.readString(file));
    }
}

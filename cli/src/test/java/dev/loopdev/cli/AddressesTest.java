package dev.loopdev.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code --listen HOST:PORT} and the URIs serve prints, in the libnbd and qemu syntax. */
class AddressesTest {
    @Test
    void parsesHostAndPort() {
        assertEquals(new InetSocketAddress("127.0.0.1", 10809), Addresses.parse("127.0.0.1:10809"));
        assertEquals(new InetSocketAddress("::1", 0), Addresses.parse("[::1]:0"));
        assertEquals("[0:0:0:0:0:0:0:1]:7", Addresses.show(Addresses.parse("[::1]:7")));
    }

    @Test
    void refusesWhatIsNotHostAndPortNamingTheOption() {
        assertEquals("--listen wants HOST:PORT, not '10809'",
                assertThrows(IllegalArgumentException.class, () -> Addresses.parse("10809")).getMessage());
        assertEquals("--listen wants HOST:PORT, not 'localhost:'",
                assertThrows(IllegalArgumentException.class, () -> Addresses.parse("localhost:")).getMessage());
        assertEquals("--listen: bad port in '127.0.0.1:65536'",
                assertThrows(IllegalArgumentException.class, () -> Addresses.parse("127.0.0.1:65536")).getMessage());
        assertEquals("--listen: bad port in '127.0.0.1:http'",
                assertThrows(IllegalArgumentException.class, () -> Addresses.parse("127.0.0.1:http")).getMessage());
    }

    @Test
    void urisEncodeExportNamesAndSocketPaths() {
        InetSocketAddress a = new InetSocketAddress("127.0.0.1", 10809);
        assertEquals("nbd://127.0.0.1:10809/", Addresses.uri(a, ""));
        assertEquals("nbd://127.0.0.1:10809/my%20disk", Addresses.uri(a, "my disk"));
        assertEquals("nbd+unix:///?socket=/tmp/a%26b.sock", Addresses.uri(Path.of("/tmp/a&b.sock"), ""));
        assertEquals("nbds+unix://alice@/disk?socket=/run/x.sock&tls-psk-file=/etc/keys.psk",
                Addresses.uri(Path.of("/run/x.sock"), "disk",
                        new Addresses.TlsUri("alice", "tls-psk-file", Path.of("/etc/keys.psk"))));
        assertEquals("nbd:unix:/run/x.sock:exportname=disk", Addresses.legacy(null, Path.of("/run/x.sock"), "disk"));
        assertEquals("nbd:127.0.0.1:10809", Addresses.legacy(a, null, ""));
    }
}

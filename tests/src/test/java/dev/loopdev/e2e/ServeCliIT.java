package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The serve command's own contract: one URI line on success; one error line and a non-zero exit otherwise. */
class ServeCliIT {
    private static final long MiB = 1 << 20;

    @TempDir
    Path dir;

    /** The command fails with exactly one line on stderr (no stack trace, no usage dump) and nothing on stdout. */
    private static String assertFailsWithOneLine(String... args) {
        Tools.Result r = LoopdevServer.cli(args);
        assertNotEquals(0, r.exitCode(), r::describe);
        assertEquals("", r.stdout(), () -> "nothing on stdout\n" + r.describe());
        String[] lines = r.stderr().strip().split("\n");
        assertEquals(1, lines.length, () -> "one line on stderr\n" + r.describe());
        assertFalse(lines[0].isBlank(), r::describe);
        assertFalse(r.stderr().contains("\tat "), () -> "a stack trace\n" + r.describe());
        return lines[0];
    }

    @Test
    void missingImage() {
        Path missing = dir.resolve("no-such.img");
        String line = assertFailsWithOneLine("serve", missing.toString(), "--unix", dir.resolve("s").toString());
        assertTrue(line.contains(missing.toString()), line);
        assertFalse(Files.exists(dir.resolve("s")), "no socket left behind");
    }

    @Test
    void badSizes() {
        Path image = Images.sparse(dir, "disk.img", MiB);
        String sock = dir.resolve("s").toString();
        assertTrue(assertFailsWithOneLine("serve", image.toString(), "--unix", sock, "--size-limit", "12Q")
                .contains("12Q"));
        assertTrue(assertFailsWithOneLine("serve", image.toString(), "--unix", sock, "--offset", "-1")
                .contains("-1"));
        assertFailsWithOneLine("serve", image.toString(), "--unix", sock, "--offset", "2M"); // beyond the end
        assertFailsWithOneLine("serve", image.toString(), "--unix", sock, "--block-size", "1000");
        assertTrue(assertFailsWithOneLine("serve", dir.resolve("new.img").toString(), "--unix", sock,
                "--create", "lots").contains("lots"));
        assertFalse(Files.exists(dir.resolve("new.img")), "a bad --create size must not create the file");
    }

    @Test
    void badTransformOptions() {
        Path image = Images.sparse(dir, "disk.img", MiB);
        String sock = dir.resolve("s").toString();
        assertFailsWithOneLine("serve", image.toString(), "--unix", sock, "--transform", "xor");
        assertFailsWithOneLine("serve", image.toString(), "--unix", sock, "--transform", "rot13",
                "--key-file", Images.keyFile(dir, Variant.KEY).toString());
        assertFailsWithOneLine("serve", image.toString(), "--unix", sock, "--write-path", "sideways");
    }

    @Test
    void portInUse() throws IOException {
        Path image = Images.sparse(dir, "disk.img", MiB);
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            String line = assertFailsWithOneLine("serve", image.toString(), "--listen",
                    "127.0.0.1:" + taken.getLocalPort());
            assertTrue(line.contains(Integer.toString(taken.getLocalPort())) || line.toLowerCase().contains("use"),
                    line);
        }
    }

    @Test
    void createMakesASparseFileOfThatSize() {
        Path image = dir.resolve("new.img");
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--create", "64M")) {
            assertEquals(64 * MiB, image.toFile().length());
            assertTrue(Tools.allocatedBytes(image) < MiB, "allocated " + Tools.allocatedBytes(image));
            String json = Tools.ok("nbdinfo", "--json", "--no-content", server.uri()).stdout();
            assertEquals(64 * MiB, Json.number(json, "export-size"));
            server.stop();
        }
    }

    @Test
    void sigtermRemovesTheUnixSocket() {
        Path image = Images.sparse(dir, "disk.img", MiB);
        try (LoopdevServer server = LoopdevServer.unix(dir, image)) {
            assertTrue(Files.exists(server.socket()));
            server.stop();
            assertFalse(Files.exists(server.socket()), "the socket file outlived the server");
        }
    }
}

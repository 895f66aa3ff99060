package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** What the server advertises, as nbdinfo --json reports it, follows the serve options. */
class NbdInfoIT {
    private static final long MiB = 1 << 20;
    private static final long MAX_REQUEST_BYTES = 32 * MiB;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Tools.require("nbdinfo");
    }

    private static String info(LoopdevServer server) {
        String json = Tools.ok("nbdinfo", "--json", "--no-content", server.uri()).stdout();
        server.assertAlive();
        return json;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void writableExport(Variant v) {
        Path image = Images.sparse(dir, "disk.img", 64 * MiB);
        try (LoopdevServer server = LoopdevServer.unix(dir, image, v.options(dir))) {
            String json = info(server);
            assertEquals(64 * MiB, Json.number(json, "export-size"));
            assertFalse(Json.bool(json, "is_read_only"));
            assertTrue(Json.bool(json, "can_flush"));
            assertTrue(Json.bool(json, "can_fua"));
            assertTrue(Json.bool(json, "can_zero"));
            // A hole does not decode to zeros under a transform, so only the identity may trim.
            assertEquals(!v.xor(), Json.bool(json, "can_trim"));
            // Any byte is addressable (the core does read-modify-write); a page is what a client should prefer.
            assertEquals(1, Json.number(json, "block_size_minimum"));
            assertEquals(4096, Json.number(json, "block_size_preferred"));
            assertEquals(MAX_REQUEST_BYTES, Json.number(json, "block_size_maximum"));
            server.stop();
        }
    }

    @Test
    void readOnlyExport() {
        Path image = Images.sparse(dir, "disk.img", 8 * MiB);
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--read-only")) {
            String json = info(server);
            assertTrue(Json.bool(json, "is_read_only"));
            assertFalse(Json.bool(json, "can_trim"));
            assertFalse(Json.bool(json, "can_zero"));
            server.stop();
        }
    }

    @Test
    void offsetAndSizeLimitMakeTheWindow() {
        Path image = Images.sparse(dir, "disk.img", 16 * MiB);
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--offset", "1M", "--size-limit", "4M")) {
            assertEquals(4 * MiB, Json.number(info(server), "export-size"));
            server.stop();
        }
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--offset", "15M")) {
            assertEquals(MiB, Json.number(info(server), "export-size"), "offset alone: up to the end of the file");
            server.stop();
        }
    }

    @Test
    void sizeIsRoundedDownToWholeBlocks() {
        Path image = Images.sparse(dir, "odd.img", 8 * MiB + 4096 + 1000);
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--block-size", "4096")) {
            String json = info(server);
            assertEquals(8 * MiB + 4096, Json.number(json, "export-size"));
            assertEquals(4096, Json.number(json, "block_size_preferred"));
            server.stop();
        }
    }

    @Test
    void tcpListenerOnAnEphemeralPortAndExportName() {
        Path image = Images.sparse(dir, "disk.img", 4 * MiB);
        try (LoopdevServer server = LoopdevServer.tcp(dir, image, "--export", "vol1")) {
            assertTrue(server.uri().matches("nbd://127\\.0\\.0\\.1:[1-9][0-9]*/vol1"), server.uri());
            String json = info(server);
            assertEquals("vol1", Json.string(json, "export-name"));
            assertEquals(4 * MiB, Json.number(json, "export-size"));
            server.stop();
        }
    }

    @Test
    void listShowsTheExportAndAnUnknownNameIsRefused() {
        Path image = Images.sparse(dir, "disk.img", 4 * MiB);
        try (LoopdevServer server = LoopdevServer.tcp(dir, image, "--export", "vol1")) {
            String list = Tools.ok("nbdinfo", "--list", "--json", "--no-content", server.uri()).stdout();
            assertEquals("vol1", Json.string(list, "export-name"));
            String other = server.uri().replace("/vol1", "/vol2");
            Tools.Result r = Tools.run("nbdinfo", "--no-content", other);
            assertTrue(r.exitCode() != 0, () -> "an unknown export name was accepted\n" + r.describe());
            assertEquals(4 * MiB, Json.number(info(server), "export-size"), "still serving after the refusal");
            server.stop();
        }
    }

    @Test
    void unixUriNamesTheSocket() {
        Path image = Images.sparse(dir, "disk.img", MiB);
        try (LoopdevServer server = LoopdevServer.unix(dir, image)) {
            assertEquals("nbd+unix:///?socket=" + server.socket(), server.uri());
            server.stop();
        }
    }
}

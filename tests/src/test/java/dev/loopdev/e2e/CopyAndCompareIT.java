package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Whole images through the server: nbdcopy in, nbdcopy out, cmp; qemu-img compare between a file and the export;
 * and what lands in the backing file (the transform applied, nothing outside the --offset window touched).
 */
class CopyAndCompareIT {
    private static final int MiB = 1 << 20;
    private static final Duration COPY_TIMEOUT = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Tools.require("nbdcopy", "qemu-img", "cmp");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void copyInCopyOutCompare(Variant v) {
        Path source = Images.random(dir, "source.img", 32 * MiB, 1);
        Path image = Images.sparse(dir, "disk.img", 32 * MiB);
        Path back = dir.resolve("back.img");
        try (LoopdevServer server = LoopdevServer.unix(dir, image, v.options(dir))) {
            Tools.ok(COPY_TIMEOUT, "nbdcopy", "--flush", source.toString(), server.uri());
            Tools.ok(COPY_TIMEOUT, "nbdcopy", server.uri(), back.toString());
            Tools.ok("cmp", source.toString(), back.toString());
            Tools.ok(COPY_TIMEOUT, "qemu-img", "compare", "-f", "raw", "-F", "raw", source.toString(),
                    server.uri());
            server.stop();
        }
        byte[] plain = Images.readAll(source);
        Images.assertSameBytes(v.raw(plain, 0), Images.readAll(image), "backing file after nbdcopy");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void offsetWindowLeavesTheRestOfTheFileAlone(Variant v) {
        int offset = MiB + 512;
        int window = 8 * MiB;
        Path file = Images.random(dir, "disk.img", 12 * MiB, 2);
        byte[] before = Images.readAll(file);
        Path source = Images.random(dir, "source.img", window, 3);
        try (LoopdevServer server = LoopdevServer.unix(dir, file,
                v.options(dir, "--offset", Integer.toString(offset), "--size-limit", "8M"))) {
            Tools.ok(COPY_TIMEOUT, "nbdcopy", "--flush", source.toString(), server.uri());
            Tools.ok(COPY_TIMEOUT, "qemu-img", "compare", "-f", "raw", "-F", "raw", source.toString(),
                    server.uri());
            server.stop();
        }
        byte[] after = Images.readAll(file);
        assertEquals(before.length, after.length, "the file keeps its size");
        Images.assertSameBytes(Images.slice(before, 0, offset), Images.slice(after, 0, offset),
                "bytes before --offset");
        int end = offset + window;
        Images.assertSameBytes(Images.slice(before, end, before.length - end),
                Images.slice(after, end, after.length - end), "bytes after the --size-limit window");
        Images.assertSameBytes(v.raw(Images.readAll(source), offset), Images.slice(after, offset, window),
                "the window");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void existingContentReadsBackThroughTheTransform(Variant v) {
        Path source = Images.random(dir, "plain.img", 4 * MiB, 4);
        // The backing file holds the encoded form; the export must show the plain bytes.
        Path image = Images.write(dir.resolve("disk.img"), v.raw(Images.readAll(source), 0));
        try (LoopdevServer server = LoopdevServer.unix(dir, image, v.options(dir, "--read-only"))) {
            Tools.ok(COPY_TIMEOUT, "qemu-img", "compare", "-f", "raw", "-F", "raw", source.toString(),
                    server.uri());
            server.stop();
        }
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * qemu's own block layer as the client: pattern writes, aligned, unaligned and one byte long, read back with
 * pattern verification, then the backing file checked byte for byte against a model of what was written.
 */
class QemuIoIT {
    private static final int IMAGE_BYTES = 1 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Tools.require("qemu-io");
    }

    /** A write of {@code length} bytes of {@code pattern} at {@code offset}, applied to qemu and to the model. */
    private record Write(int pattern, int offset, int length) {
        String command() {
            return String.format("write -P 0x%02x %d %d", pattern, offset, length);
        }

        void apply(byte[] model) {
            Arrays.fill(model, offset, offset + length, (byte) pattern);
        }
    }

    private static final List<Write> WRITES = List.of(
            new Write(0xab, 4096, 65536),      // aligned
            new Write(0x5a, 5000, 3333),       // unaligned at both ends, inside the first
            new Write(0x11, 7, 1),             // one byte
            new Write(0x22, 65535, 2),         // two bytes across a sector (and page) boundary
            new Write(0x33, 69631, 1),         // the last byte of the first write's sector run
            new Write(0x44, IMAGE_BYTES - 1, 1), // the very last byte of the device
            new Write(0x55, 300_000, 200_000)); // large, starting mid-sector

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void patternsReadBackAndLandInTheFile(Variant v) {
        Path image = v.zeroDevice(dir, "disk.img", IMAGE_BYTES);
        byte[] model = new byte[IMAGE_BYTES];
        List<String> cmd = Tools.list("qemu-io", "-f", "raw");
        for (Write w : WRITES) {
            cmd.add("-c");
            cmd.add(w.command());
            w.apply(model);
        }
        cmd.addAll(List.of("-c", "flush"));
        for (String read : readsOf(model)) {
            cmd.add("-c");
            cmd.add(read);
        }
        try (LoopdevServer server = LoopdevServer.unix(dir, image, v.options(dir))) {
            cmd.add(server.uri());
            Tools.Result r = Tools.run(Tools.DEFAULT_TIMEOUT, java.util.Map.of(), cmd).ok();
            assertFalse(r.stdout().contains("failed") || r.stderr().contains("failed"), r::describe);
            server.stop();
        }
        Images.assertSameBytes(v.raw(model, 0), Images.readAll(image), "backing file");
    }

    /** One pattern-verified read per run of equal bytes in the model, so every byte of the device is checked. */
    private static List<String> readsOf(byte[] model) {
        List<String> reads = new java.util.ArrayList<>();
        int start = 0;
        for (int i = 1; i <= model.length; i++) {
            if (i == model.length || model[i] != model[start]) {
                reads.add(String.format("read -P 0x%02x %d %d", model[start] & 0xff, start, i - start));
                start = i;
            }
        }
        return reads;
    }
}

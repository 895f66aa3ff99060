package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * fio's nbd engine with many requests in flight writes checksummed blocks and reads every one back; then, after a
 * restart of the server, verifies them again (what SIGTERM flushed must be what was acknowledged).
 */
class FioVerifyIT {
    private static final Duration FIO_TIMEOUT = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Tools.require("fio");
    }

    private static List<String> fio(String uri, String... more) {
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=verify", "--ioengine=nbd", "--uri=" + uri,
                "--rw=randwrite", "--size=24M", "--iodepth=16", "--verify=crc32c", "--verify_fatal=1",
                "--randrepeat=1", "--randseed=4242", "--group_reporting",
                "--verify_state_save=0")); // no *-verify.state files in the working directory
        cmd.addAll(List.of(more));
        return cmd;
    }

    /** fio must have read back (verified) the whole written size; a 0-byte verify would prove nothing. */
    private static void assertVerified(Tools.Result r) {
        Matcher m = Pattern.compile("READ: bw=.*io=([0-9.]+)MiB").matcher(r.stdout());
        assertTrue(m.find(), () -> "fio read nothing back\n" + r.describe());
        assertTrue(Double.parseDouble(m.group(1)) >= 24.0, () -> "fio verified less than 24 MiB\n" + r.describe());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void randomWritesVerifyNowAndAfterRestart(Variant v) {
        Path image = Images.sparse(dir, "disk.img", 32 << 20);
        String[] options = v.options(dir);
        // Block sizes from one sector to 256 KiB, so requests straddle pages and the mapped path's windows.
        String bs = "--bsrange=512-256k";
        try (LoopdevServer server = LoopdevServer.unix(dir, image, options)) {
            assertVerified(Tools.run(FIO_TIMEOUT, Map.of(), fio(server.uri(), bs, "--do_verify=1")).ok());
            server.stop();
        }
        try (LoopdevServer server = LoopdevServer.unix(dir, image, options)) {
            assertVerified(Tools.run(FIO_TIMEOUT, Map.of(), fio(server.uri(), bs, "--verify_only")).ok());
            server.stop();
        }
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGINT, SIGTERM and SIGHUP each stop serve and fuse the way qemu-nbd and nbdkit stop: flushed, logged, exit 0.
 * Started as a script often starts a server: in the background, with SIGINT ignored (a non-interactive shell does
 * that to background jobs; here {@code trap '' INT} makes sure of it, whatever started the shell); {@code kill
 * -INT; wait} must still end it.
 */
class SignalsIT {
    private static final long MiB = 1 << 20;

    @TempDir
    Path dir;

    private static String loopdev() {
        return String.join(" ", LoopdevServer.command());
    }

    @ParameterizedTest
    @ValueSource(strings = {"INT", "TERM", "HUP"})
    void serveInTheBackgroundOfAScript(String signal) throws Exception {
        Path image = Images.sparse(dir, "disk.img", 4 * MiB);
        Path data = Images.random(dir, "data.bin", MiB, 11);
        String uri = "nbd+unix:///?socket=" + dir.resolve("nbd.sock");
        // Started with SIGINT ignored, shown with a sleep started the same way, whose mask nothing changes. Then
        // the server is written to, signalled, and waited for.
        String script = """
                (trap '' INT; exec sleep 60) & s=$!
                sleep 0.2
                echo "SigIgn $(awk '/^SigIgn/ {print $2}' /proc/$s/status)"
                kill $s
                (trap '' INT; exec $LOOPDEV serve "$DIR/disk.img" --unix "$DIR/nbd.sock" 2> "$DIR/serve.log" > /dev/null) &
                pid=$!
                for i in $(seq 600); do nbdinfo --size "$URI" > /dev/null 2>&1 && break; sleep 0.1; done
                nbdcopy "$DIR/data.bin" "$URI"
                kill -SIG $pid
                wait $pid
                echo "status $?"
                """.replace("SIG", signal);
        Tools.Result r = Tools.run(Duration.ofSeconds(120), Map.of("LOOPDEV", loopdev(), "DIR", dir.toString(),
                "URI", uri), java.util.List.of("bash", "-c", script));
        String log = Files.readString(dir.resolve("serve.log"));
        long ignored = Long.parseLong(r.stdout().lines().filter(l -> l.startsWith("SigIgn ")).findFirst()
                .orElseThrow().substring(7).strip(), 16);
        assertTrue((ignored & (1 << (2 - 1))) != 0, () -> "SIGINT not ignored in a background job\n" + r.describe());
        assertTrue(r.stdout().contains("status 0"), () -> r.describe() + "\n" + log);
        assertTrue(log.contains("loopdev: SIG" + signal + ": closing connections and flushing"), log);
        assertArrayEquals(Images.readAll(data), Images.slice(Images.readAll(image), 0, (int) MiB));
    }

    @ParameterizedTest
    @ValueSource(strings = {"INT", "HUP"})
    void fuseInTheBackgroundOfAScript(String signal) throws Exception {
        Path image = Images.sparse(dir, "disk.img", 4 * MiB);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Path data = Images.random(dir, "data.bin", MiB, 12);
        String script = """
                (trap '' INT; exec $LOOPDEV fuse "$DIR/disk.img" "$DIR/mnt" 2> "$DIR/fuse.log" > /dev/null) &
                pid=$!
                for i in $(seq 600); do test -f "$DIR/mnt/disk" && break; sleep 0.1; done
                dd if="$DIR/data.bin" of="$DIR/mnt/disk" bs=64k conv=notrunc status=none
                kill -SIG $pid
                wait $pid
                echo "status $?"
                mountpoint -q "$DIR/mnt" && echo "still mounted"
                true
                """.replace("SIG", signal);
        Tools.Result r = Tools.run(Duration.ofSeconds(120), Map.of("LOOPDEV", loopdev(), "DIR", dir.toString()),
                java.util.List.of("bash", "-c", script));
        String log = Files.readString(dir.resolve("fuse.log"));
        assertTrue(r.stdout().contains("status 0") && !r.stdout().contains("still mounted"),
                () -> r.describe() + "\n" + log);
        assertTrue(log.contains("loopdev: SIG" + signal + ": unmounting " + mnt), log);
        assertArrayEquals(Images.readAll(data), Images.slice(Images.readAll(image), 0, (int) MiB));
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Knowing when the server is ready, as with qemu-nbd and nbdkit: {@code --fork} returns once it listens (or the
 * FUSE file is there) and a client connects at once, even inside {@code $(...)}; {@code --pid-file} names the
 * serving process while it serves and is gone when it stops; systemd's NOTIFY_SOCKET gets READY=1 when a client can
 * connect and STOPPING=1 when it stops.
 */
@Timeout(300) // several JVMs start, each twice with --fork
class ReadinessIT {
    private static final long MiB = 1 << 20;

    @TempDir
    Path dir;

    private static String loopdev() {
        return String.join(" ", LoopdevServer.command());
    }

    private Tools.Result bash(String script) {
        return bash(script, Map.of());
    }

    private Tools.Result bash(String script, Map<String, String> env) {
        Map<String, String> all = new java.util.HashMap<>(env);
        all.put("LOOPDEV", loopdev());
        all.put("DIR", dir.toString());
        return Tools.run(Duration.ofSeconds(120), all, List.of("bash", "-c", "set -euo pipefail\n" + script));
    }

    @Test
    void serveForkReturnsOnceListeningAndThePidFileNamesTheServer() throws Exception {
        Images.sparse(dir, "disk.img", 4 * MiB);
        // $(...) returns only when every writer of its pipe is gone: the background server must not hold it.
        Tools.Result r = bash("""
                uri=$($LOOPDEV serve "$DIR/disk.img" --unix "$DIR/nbd.sock" --fork -P "$DIR/serve.pid" 2>"$DIR/log")
                echo "uri $uri"
                nbdinfo --size "$uri"
                pid=$(cat "$DIR/serve.pid")
                echo "pid $pid $(cat /proc/$pid/comm) session $(ps -o sid= -p $pid) mine $(ps -o sid= -p $$)"
                kill -TERM "$pid"
                while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
                test ! -e "$DIR/serve.pid" && echo "pid file removed"
                """).ok();
        String out = r.stdout();
        assertTrue(out.contains("uri nbd+unix:///?socket=" + dir.resolve("nbd.sock") + "\n4194304\n"), r::describe);
        assertTrue(out.contains("pid file removed"), r::describe);
        String[] pidLine = out.lines().filter(l -> l.startsWith("pid ")).findFirst().orElseThrow().split("\\s+");
        assertEquals("java", pidLine[2], r::describe);
        assertFalse(pidLine[4].equals(pidLine[6]), () -> "the server left the caller's session\n" + r.describe());
        String log = Files.readString(dir.resolve("log"));
        assertTrue(log.contains("loopdev: SIGTERM: closing connections and flushing"), log);
    }

    @Test
    void forkReportsAFailureWithItsStatus() {
        Tools.Result missing = bash("$LOOPDEV serve \"$DIR/none.img\" --unix \"$DIR/nbd.sock\" --fork");
        assertEquals(1, missing.exitCode(), missing::describe);
        assertEquals("loopdev: " + dir.resolve("none.img") + ": No such file or directory", missing.stderr().strip());
        Tools.Result usage = bash("$LOOPDEV serve \"$DIR/none.img\" --unix \"$DIR/nbd.sock\" --fork --offset lots");
        assertEquals(2, usage.exitCode(), usage::describe);
        Tools.Result run = bash("$LOOPDEV serve \"$DIR/none.img\" --fork --run true");
        assertEquals(2, run.exitCode(), run::describe);
        assertTrue(run.stderr().contains("--fork and --run exclude each other"), run::describe);
    }

    @Test
    void fuseForkReturnsOnceTheFileIsThere() throws Exception {
        Images.random(dir, "disk.img", 4 * MiB, 51);
        Files.createDirectory(dir.resolve("mnt"));
        Tools.Result r = bash("""
                line=$($LOOPDEV fuse "$DIR/disk.img" "$DIR/mnt" --fork --pid-file "$DIR/fuse.pid" 2>"$DIR/log")
                echo "$line"
                cmp "$DIR/disk.img" "$DIR/mnt/disk" && echo "same bytes"
                pid=$(cat "$DIR/fuse.pid")
                fusermount -u "$DIR/mnt"
                while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
                test ! -e "$DIR/fuse.pid" && echo "pid file removed"
                """).ok();
        assertTrue(r.stdout().startsWith("loopdev: " + dir.resolve("disk.img") + " attached as "
                + dir.resolve("mnt/disk")), r::describe);
        assertTrue(r.stdout().contains("same bytes\n") && r.stdout().contains("pid file removed"), r::describe);
    }

    /** systemd's readiness protocol, with a datagram socket standing in for systemd (and the abstract namespace). */
    @Test
    void sdNotifyReadyAndStopping() throws Exception {
        Images.sparse(dir, "disk.img", 4 * MiB);
        Path receiver = Files.writeString(dir.resolve("receiver.py"), """
                import socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                a = sys.argv[1]
                s.bind("\\0" + a[1:] if a.startswith("@") else a)
                print("bound", flush=True)
                while True:
                    print(s.recv(4096).decode(), flush=True)
                """);
        for (String socket : new String[] {dir.resolve("notify.sock").toString(), "@loopdev-notify-" + ProcessHandle
                .current().pid()}) {
            Tools.Result r = bash("""
                    python3 "$DIR/receiver.py" "$SOCK" > "$DIR/notify.log" & recv=$!
                    until grep -q bound "$DIR/notify.log"; do kill -0 $recv; sleep 0.05; done
                    NOTIFY_SOCKET="$SOCK" $LOOPDEV serve "$DIR/disk.img" --unix "$DIR/nbd.sock" 2>"$DIR/log" >/dev/null &
                    server=$!
                    until grep -q READY=1 "$DIR/notify.log"; do kill -0 $server; sleep 0.02; done
                    nbdinfo --size "nbd+unix:///?socket=$DIR/nbd.sock"      # at once: no retry
                    kill -TERM $server; wait $server
                    sleep 0.5; kill $recv
                    cat "$DIR/notify.log"
                    """, Map.of("SOCK", socket));
            r.ok();
            assertEquals(List.of("4194304", "bound", "READY=1", "STOPPING=1"), r.stdout().lines().toList(),
                    r::describe);
        }
    }
}

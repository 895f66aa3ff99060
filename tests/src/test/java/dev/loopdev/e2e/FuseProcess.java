package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A long-running {@code loopdev fuse} or {@code loopdev serve} process: ready once it prints its one line on
 * stdout, stopped with SIGTERM (after which it must have exited 0), killed whatever happens when a test is done.
 */
final class FuseProcess implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);

    private final Process process;
    private final Path stderrLog;
    private final String firstLine;

    private FuseProcess(Process process, Path stderrLog) {
        this.process = process;
        this.stderrLog = stderrLog;
        this.firstLine = readFirstLine();
    }

    /** {@code loopdev fuse IMAGE MOUNTPOINT OPTIONS...}; returns once the device file is there. */
    static FuseProcess fuse(Path logDir, Path image, Path mountPoint, String... options) {
        List<String> cmd = FuseShell.loopdev("fuse", image.toString(), mountPoint.toString());
        cmd.addAll(List.of(options));
        return start(logDir, "fuse", cmd);
    }

    /** {@code loopdev serve --unix SOCKET IMAGE OPTIONS...}; its first line is the NBD URI. */
    static FuseProcess serve(Path logDir, Path image, Path socket, String... options) {
        List<String> cmd = FuseShell.loopdev("serve", "--unix", socket.toString(), image.toString());
        cmd.addAll(List.of(options));
        return start(logDir, "serve", cmd);
    }

    private static FuseProcess start(Path logDir, String name, List<String> cmd) {
        try {
            Path log = Files.createTempFile(logDir, "loopdev-" + name, ".stderr");
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().put("PATH", FuseShell.PATH);
            Process p = pb.start();
            try {
                return new FuseProcess(p, log);
            } catch (RuntimeException | Error e) {
                FuseShell.kill(p);
                throw e;
            }
        } catch (IOException e) {
            throw new AssertionError("cannot start " + cmd, e);
        }
    }

    private String readFirstLine() {
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8));
        CompletableFuture<String> first = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try {
                first.complete(out.readLine());
                while (out.readLine() != null) {
                    // drained, so that the process never blocks on a full pipe
                }
            } catch (IOException e) {
                first.completeExceptionally(e);
            }
        }, "loopdev-stdout");
        reader.setDaemon(true);
        reader.start();
        try {
            String line = first.get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            if (line == null) {
                process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                fail("loopdev exited without becoming ready, exit code "
                        + (process.isAlive() ? "(running)" : process.exitValue()) + "\n" + log());
            }
            return line.trim();
        } catch (TimeoutException | ExecutionException e) {
            fail("loopdev did not become ready within " + START_TIMEOUT.toSeconds() + " s: " + e + "\n" + log());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted starting loopdev");
        }
        throw new AssertionError("unreachable");
    }

    String firstLine() {
        return firstLine;
    }

    /** What the process logged on stderr so far. */
    String log() {
        try {
            return "--- loopdev stderr ---\n" + Files.readString(stderrLog);
        } catch (IOException e) {
            return "(stderr unreadable: " + e + ")";
        }
    }

    Process process() {
        return process;
    }

    /** Sends {@code signal} (SIGTERM by default, as an init system would); the process must exit 0 promptly. */
    void stop() {
        stop("TERM");
    }

    void stop(String signal) {
        if (!process.isAlive()) {
            fail("loopdev died before it was stopped, exit code " + process.exitValue() + "\n" + log());
        }
        FuseShell.ok("kill", "-" + signal, Long.toString(process.pid()));
        try {
            if (!process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                FuseShell.kill(process);
                fail("loopdev did not exit within " + STOP_TIMEOUT.toSeconds() + " s of SIG" + signal + "\n" + log());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            FuseShell.kill(process);
            fail("interrupted stopping loopdev");
        }
        assertEquals(0, process.exitValue(), () -> "exit code after SIG" + signal + "\n" + log());
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            FuseShell.kill(process);
        }
    }
}

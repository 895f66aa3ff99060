package dev.loopdev.e2e.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A long-running loopdev process, {@code loopdev serve} or {@code loopdev fuse}: started from the shaded jar, ready
 * once it prints its one line on stdout (the URI it serves, or the file it mounted), stopped with a signal (after
 * which it must have flushed and exited 0, having printed nothing more), and killed, with anything it started,
 * whatever happens when the test is done.
 */
public final class LoopdevServer implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);

    private final Process process;
    private final Path stderrLog;
    private final Path socket;
    private final String firstLine;
    private final StringBuilder laterStdout = new StringBuilder();

    private LoopdevServer(Process process, Path stderrLog, Path socket) {
        this.process = process;
        this.stderrLog = stderrLog;
        this.socket = socket;
        this.firstLine = readFirstLine();
    }

    /** Serves {@code image} on a unix socket in {@code dir}; {@code options} are passed as given. */
    public static LoopdevServer unix(Path dir, Path image, String... options) {
        Path socket = dir.resolve("nbd.sock");
        return start(javaHome(), dir, socket, image, "--unix", socket.toString(), options);
    }

    /** As {@link #unix}, with the server on the JDK at {@code javaHome} (the suite must pass on 17 and 25). */
    public static LoopdevServer unixOn(Path javaHome, Path dir, Path image, String... options) {
        Path socket = dir.resolve("nbd.sock");
        return start(javaHome, dir, socket, image, "--unix", socket.toString(), options);
    }

    /** Serves {@code image} on an ephemeral port of 127.0.0.1. */
    public static LoopdevServer tcp(Path dir, Path image, String... options) {
        return start(javaHome(), dir, null, image, "--listen", "127.0.0.1:0", options);
    }

    /** {@code loopdev fuse IMAGE MOUNTPOINT OPTIONS...}; returns once the device file is there. */
    public static LoopdevServer fuse(Path dir, Path image, Path mountPoint, String... options) {
        List<String> cmd = command(javaHome(), "fuse", image.toString(), mountPoint.toString());
        cmd.addAll(Arrays.asList(options));
        return start(dir, null, cmd);
    }

    private static LoopdevServer start(Path javaHome, Path dir, Path socket, Path image, String how, String where,
                                       String... options) {
        List<String> cmd = command(javaHome, "serve", image.toString(), how, where);
        cmd.addAll(Arrays.asList(options));
        return start(dir, socket, cmd);
    }

    private static LoopdevServer start(Path dir, Path socket, List<String> cmd) {
        try {
            Path log = Files.createTempFile(dir, "loopdev-" + cmd.get(3), ".stderr");
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectError(log.toFile());
            pb.environment().put("PATH", Tools.PATH);
            Process p = pb.start();
            try {
                return new LoopdevServer(p, log, socket);
            } catch (RuntimeException | Error e) {
                Tools.kill(p);
                throw e;
            }
        } catch (IOException e) {
            throw new AssertionError("cannot start " + cmd, e);
        }
    }

    /** {@code java -jar loopdev.jar ARGS...}, with the JVM running the tests (so the suite runs on any JDK). */
    public static List<String> command(String... args) {
        return command(javaHome(), args);
    }

    private static Path javaHome() {
        return Path.of(System.getProperty("java.home"));
    }

    private static List<String> command(Path javaHome, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaHome.resolve("bin").resolve("java").toString());
        cmd.add("-jar");
        cmd.add(jar().toString());
        cmd.addAll(Arrays.asList(args));
        return cmd;
    }

    /** Runs a loopdev command to completion, e.g. one that must fail with one line on stderr. */
    public static Tools.Result cli(String... args) {
        return Tools.run(Duration.ofSeconds(30), Map.of(), command(args));
    }

    public static Path jar() {
        String prop = System.getProperty("loopdev.jar");
        if (prop == null) {
            fail("system property loopdev.jar is not set: run the tests with ./run-tests (or mvn verify)");
        }
        Path jar = Path.of(prop).toAbsolutePath().normalize();
        if (!Files.isRegularFile(jar)) {
            fail(jar + " does not exist: build it with ./run-tests (or mvn -pl cli -am package)");
        }
        return jar;
    }

    private String readFirstLine() {
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8));
        CompletableFuture<String> first = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try {
                first.complete(out.readLine());
                // Anything after the URI line is unexpected, but must be drained so the server never blocks on it.
                for (String line; (line = out.readLine()) != null; ) {
                    synchronized (laterStdout) {
                        laterStdout.append(line).append('\n');
                    }
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
                waitQuietly();
                fail("loopdev exited without becoming ready; exit code " + exitCodeOrAlive() + "\n" + stderr());
            }
            return line.trim();
        } catch (TimeoutException e) {
            fail("loopdev did not become ready within " + START_TIMEOUT.toSeconds() + " s\n" + stderr());
        } catch (ExecutionException e) {
            fail("cannot read the first line of loopdev: " + e.getCause() + "\n" + stderr());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted while starting loopdev");
        }
        throw new AssertionError("unreachable");
    }

    /** The URI {@code serve} printed, e.g. {@code nbd+unix:///?socket=/tmp/.../nbd.sock}. */
    public String uri() {
        return firstLine;
    }

    /** The one line the process printed when it became ready (for {@code fuse}, what it mounted). */
    public String firstLine() {
        return firstLine;
    }

    public Process process() {
        return process;
    }

    /** The TCP port of a server started with {@link #tcp}, from its URI. */
    public int port() {
        return java.net.URI.create(firstLine).getPort();
    }

    /** The unix socket, or null when serving on TCP. */
    public Path socket() {
        return socket;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public long pid() {
        return process.pid();
    }

    /** What the process wrote on stderr so far (its log), for failure messages. */
    public String stderr() {
        try {
            return "--- loopdev stderr ---\n" + Files.readString(stderrLog);
        } catch (IOException e) {
            return "(stderr unreadable: " + e + ")";
        }
    }

    /** Fails, with the process's log, unless it is still running. */
    public void assertAlive() {
        if (!process.isAlive()) {
            fail("loopdev died, exit code " + process.exitValue() + "\n" + stderr());
        }
    }

    /** SIGTERM, as an init system would: the process must flush and exit 0 promptly. */
    public void stop() {
        stop("TERM");
    }

    /** Sends {@code signal}; the process must exit 0 promptly, having printed nothing after its first line. */
    public void stop(String signal) {
        assertAlive();
        Tools.ok("kill", "-" + signal, Long.toString(process.pid()));
        try {
            if (!process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                Tools.kill(process);
                fail("loopdev did not exit within " + STOP_TIMEOUT.toSeconds() + " s of SIG" + signal + "\n"
                        + stderr());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            Tools.kill(process);
            fail("interrupted while stopping loopdev");
        }
        assertEquals(0, process.exitValue(), () -> "exit code after SIG" + signal + "\n" + stderr());
        synchronized (laterStdout) {
            assertEquals("", laterStdout.toString(), "loopdev must print one line only on stdout");
        }
    }

    /** Kills the process, and anything it started, if a test did not stop it (a failed test). */
    @Override
    public void close() {
        if (process.isAlive()) {
            Tools.kill(process);
        }
    }

    private void waitQuietly() {
        try {
            process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private String exitCodeOrAlive() {
        return process.isAlive() ? "(still running)" : Integer.toString(process.exitValue());
    }
}

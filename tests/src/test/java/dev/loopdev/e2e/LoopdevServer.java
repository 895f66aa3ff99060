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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code loopdev serve} as a real process: started from the shaded jar, its URI read from the one line it prints,
 * stopped with SIGTERM (which must flush and exit 0), and killed whatever happens when the test is done.
 */
public final class LoopdevServer implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);

    private final Process process;
    private final Path stderrLog;
    private final Path socket;
    private final String uri;
    private final StringBuilder laterStdout = new StringBuilder();

    private LoopdevServer(Process process, Path stderrLog, Path socket) {
        this.process = process;
        this.stderrLog = stderrLog;
        this.socket = socket;
        this.uri = readUri();
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

    private static LoopdevServer start(Path javaHome, Path dir, Path socket, Path image, String how, String where,
                                       String... options) {
        List<String> cmd = command(javaHome, "serve", image.toString(), how, where);
        cmd.addAll(Arrays.asList(options));
        try {
            Path log = Files.createTempFile(dir, "loopdev-serve", ".stderr");
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectError(log.toFile());
            pb.environment().put("PATH", Tools.PATH);
            Process p = pb.start();
            try {
                return new LoopdevServer(p, log, socket);
            } catch (RuntimeException | Error e) {
                p.destroyForcibly();
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

    private String readUri() {
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
                fail("loopdev serve printed no URI; exit code " + exitCodeOrAlive() + "\n" + stderr());
            }
            return line.trim();
        } catch (TimeoutException e) {
            fail("loopdev serve printed no URI within " + START_TIMEOUT.toSeconds() + " s\n" + stderr());
        } catch (ExecutionException e) {
            fail("cannot read the URI of loopdev serve: " + e.getCause() + "\n" + stderr());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted while starting loopdev serve");
        }
        throw new AssertionError("unreachable");
    }

    /** The URI the server printed, e.g. {@code nbd+unix:///?socket=/tmp/.../nbd.sock}. */
    public String uri() {
        return uri;
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

    /** What the server wrote on stderr so far (its log), for failure messages. */
    public String stderr() {
        try {
            return "--- loopdev serve stderr ---\n" + Files.readString(stderrLog);
        } catch (IOException e) {
            return "(stderr unreadable: " + e + ")";
        }
    }

    /** Fails, with the server's log, unless the server is still running. */
    public void assertAlive() {
        if (!process.isAlive()) {
            fail("loopdev serve died, exit code " + process.exitValue() + "\n" + stderr());
        }
    }

    /** SIGTERM, as an init system would: the server must flush and exit 0 promptly. */
    public void stop() {
        assertAlive();
        process.destroy();
        try {
            if (!process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                process.destroyForcibly();
                fail("loopdev serve did not exit within " + STOP_TIMEOUT.toSeconds() + " s of SIGTERM\n"
                        + stderr());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            fail("interrupted while stopping loopdev serve");
        }
        assertEquals(0, process.exitValue(), () -> "exit code after SIGTERM\n" + stderr());
        synchronized (laterStdout) {
            assertEquals("", laterStdout.toString(), "loopdev serve must print only the URI on stdout");
        }
    }

    /** Kills the server if a test did not stop it (a failed test): never leave a process behind. */
    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            waitQuietly();
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

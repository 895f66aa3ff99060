package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real tools (losetup, mkfs.ext4, mkntfs, e2fsck, debugfs, dd, qemu-img, ...) and {@code loopdev} itself
 * as processes, each bounded by a timeout, showing their output when they do not do what a test expects.
 */
final class FuseShell {
    /** System directories first: pyenv's python3 must not shadow the system one that nbdsh and friends need. */
    static final String PATH = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin";
    static final Duration TIMEOUT = Duration.ofSeconds(60);

    private FuseShell() {
    }

    record Result(List<String> command, int exitCode, String stdout, String stderr) {
        String describe() {
            return "$ " + String.join(" ", command) + "\nexit code " + exitCode + "\n--- stdout ---\n" + stdout
                    + "\n--- stderr ---\n" + stderr;
        }

        Result ok() {
            if (exitCode != 0) {
                fail("command failed\n" + describe());
            }
            return this;
        }
    }

    /** Fails, never skips, when a tool is missing: CI installs tests/apt-packages.txt. */
    static void require(String... tools) {
        for (String tool : tools) {
            if (find(tool) == null) {
                fail(tool + " is not installed: run ./run-tests, which installs tests/apt-packages.txt");
            }
        }
    }

    static Path find(String tool) {
        for (String dir : PATH.split(":")) {
            Path p = Path.of(dir, tool);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    static Result run(Duration timeout, List<String> command) {
        Path out = null;
        Path err = null;
        Process p = null;
        try {
            out = Files.createTempFile("fuse-it-out", ".txt");
            err = Files.createTempFile("fuse-it-err", ".txt");
            ProcessBuilder pb = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new java.io.File(
                    "/dev/null"))).redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().put("PATH", PATH);
            pb.environment().put("LC_ALL", "C");
            p = pb.start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                kill(p);
                fail("timed out after " + timeout.toSeconds() + " s\n"
                        + new Result(command, -1, Files.readString(out), Files.readString(err)).describe());
            }
            return new Result(List.copyOf(command), p.exitValue(), Files.readString(out), Files.readString(err));
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running " + command, e);
        } finally {
            if (p != null && p.isAlive()) {
                kill(p);
            }
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    static Result run(String... command) {
        return run(TIMEOUT, Arrays.asList(command));
    }

    static Result ok(String... command) {
        return run(command).ok();
    }

    static Result ok(Duration timeout, String... command) {
        return run(timeout, Arrays.asList(command)).ok();
    }

    /** {@code java -jar loopdev.jar ARGS...} on the JVM running the tests. */
    static List<String> loopdev(String... args) {
        String prop = System.getProperty("loopdev.jar");
        if (prop == null || !Files.isRegularFile(Path.of(prop))) {
            fail("loopdev.jar not found (system property loopdev.jar = " + prop + "): run ./run-tests or mvn verify");
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", Path.of(prop).toAbsolutePath().toString()));
        cmd.addAll(Arrays.asList(args));
        return cmd;
    }

    static boolean isMountPoint(Path dir) {
        try {
            String target = " " + dir.toAbsolutePath() + " ";
            return Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8).stream()
                    .anyMatch(l -> l.contains(target));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        try {
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            if (p != null) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // a temp file left behind is harmless
        }
    }
}

package dev.loopdev.e2e.harness;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the external tools (nbdinfo, nbdcopy, qemu-img, fio, losetup, mkfs.ext4, e2fsck, ...) as real processes,
 * each with a timeout, and shows their output when they do not do what the test expects. The one way the
 * end-to-end tests run a command to completion; {@link LoopdevServer} is the one way they run loopdev for longer.
 *
 * <p>The system directories come first on PATH: pyenv's python3 shadows /usr/bin/python3, and nbdsh runs
 * {@code python3 -m nbd}, which only the system python can import.
 */
public final class Tools {
    public static final String PATH = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin";
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    private Tools() {
    }

    /** What a finished command did. */
    public record Result(List<String> command, int exitCode, String stdout, String stderr) {
        /** The command and what it printed, each stream cut to its first 20,000 characters. */
        public String describe() {
            return "$ " + String.join(" ", command) + "\nexit code " + exitCode
                    + "\n--- stdout ---\n" + shorten(stdout) + "\n--- stderr ---\n" + shorten(stderr);
        }

        private static String shorten(String s) {
            int max = 20_000;
            return s.length() <= max ? s : s.substring(0, max) + "\n... (" + (s.length() - max) + " more chars)";
        }

        /** Asserts the exit code is 0, showing the command's output otherwise; returns this. */
        public Result ok() {
            if (exitCode != 0) {
                fail("command failed\n" + describe());
            }
            return this;
        }
    }

    /** Fails (never skips) when a client the tests drive is not installed. */
    public static void require(String... tools) {
        for (String tool : tools) {
            if (find(tool) == null) {
                fail(tool + " is not installed: run ./run-tests, which installs the packages in "
                        + "tests/apt-packages.txt");
            }
        }
    }

    public static Path find(String tool) {
        if (tool.contains("/")) {
            return Files.isExecutable(Path.of(tool)) ? Path.of(tool) : null;
        }
        for (String dir : PATH.split(":")) {
            Path p = Path.of(dir, tool);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    /** Runs a command to completion (or kills it after {@code timeout}, which fails the test). */
    public static Result run(Duration timeout, Map<String, String> env, List<String> command) {
        require(command.get(0));
        Path out = null;
        Path err = null;
        Process p = null;
        try {
            out = Files.createTempFile("e2e-out", ".txt");
            err = Files.createTempFile("e2e-err", ".txt");
            ProcessBuilder pb = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile());
            pb.environment().put("PATH", PATH);
            pb.environment().put("LC_ALL", "C");
            pb.environment().putAll(env);
            p = pb.start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                fail("timed out after " + timeout.toSeconds() + " s\n"
                        + new Result(command, -1, read(out), read(err)).describe());
            }
            return new Result(List.copyOf(command), p.exitValue(), read(out), read(err));
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running " + command, e);
        } finally {
            if (p != null && p.isAlive()) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    public static Result run(String... command) {
        return run(DEFAULT_TIMEOUT, Map.of(), Arrays.asList(command));
    }

    /** Runs a command and asserts it exits 0. */
    public static Result ok(String... command) {
        return run(command).ok();
    }

    public static Result ok(Duration timeout, String... command) {
        return run(timeout, Map.of(), Arrays.asList(command)).ok();
    }

    public static List<String> list(String... parts) {
        return new ArrayList<>(Arrays.asList(parts));
    }

    /** Whether {@code dir} is a mount point now (of any file system, a dead FUSE mount included). */
    public static boolean isMountPoint(Path dir) {
        try {
            String target = " " + dir.toAbsolutePath() + " ";
            return Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8).stream()
                    .anyMatch(l -> l.contains(target));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** Kills {@code p} and everything it started, and waits for it. */
    public static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        try {
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Blocks the file occupies on disk, in bytes (stat's %b counts 512-byte units). */
    public static long allocatedBytes(Path file) {
        return Long.parseLong(ok("stat", "-c", "%b", file.toString()).stdout().trim()) * 512;
    }

    private static String read(Path p) throws IOException {
        return new String(Files.readAllBytes(p), StandardCharsets.UTF_8);
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // a temp file left behind is harmless
            }
        }
    }
}

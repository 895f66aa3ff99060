package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code loopdev serve} on the host, on an ephemeral port of 127.0.0.1, for a guest to reach as 10.0.2.2. */
final class VmHostServer implements AutoCloseable {
    private static final Pattern PORT = Pattern.compile("nbd://127\\.0\\.0\\.1:(\\d+)/?.*");

    final Process process;
    final int port;
    final Path log;

    private VmHostServer(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    static VmHostServer start(Path dir, Path image, String... options) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", VmGuest.jar().toString(), "serve", image.toString(), "--listen", "127.0.0.1:0"));
        cmd.addAll(Arrays.asList(options));
        Path log = Files.createTempFile(dir, "serve-", ".log");
        Process p = new ProcessBuilder(cmd).redirectError(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
            try {
                return r.readLine();
            } catch (IOException e) {
                return null;
            }
        });
        String uri;
        try {
            uri = line.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            uri = null;
        }
        Matcher m = uri == null ? null : PORT.matcher(uri);
        if (m == null || !m.matches()) {
            p.destroyForcibly();
            fail("loopdev serve did not start (printed " + uri + "):\n" + Files.readString(log));
        }
        return new VmHostServer(p, Integer.parseInt(m.group(1)), log);
    }

    /** SIGTERM: the server flushes and exits 0. */
    void stop() throws IOException, InterruptedException {
        process.destroy();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), "loopdev serve did not exit on SIGTERM");
        assertEquals(0, process.exitValue(), "loopdev serve exit code; its log:\n" + Files.readString(log));
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}

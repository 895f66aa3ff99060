package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;

/** A 2 MiB tmpfs mounted for one test, so that a file system fills up on cue. Needs root. */
public final class SmallTmpfs implements AutoCloseable {
    public final Path dir;

    public SmallTmpfs(Path parent) throws Exception {
        dir = Files.createDirectory(parent.resolve("small"));
        run("mount", "-t", "tmpfs", "-o", "size=2m", "loopdev-test", dir.toString());
    }

    @Override
    public void close() throws Exception {
        run("umount", "-l", dir.toString());
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + " (this test needs root): " + out);
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's commands, run as written, with the built tree's ./loopdev, in the order the README gives them: the
 * set-up command serves an image on nbd://127.0.0.1:10809/, and every {@code sh} block of examples runs to the end
 * without an error, backgrounded servers included. A block is left out only with a comment before it that says
 * why, and only the blocks that need what this host lacks (the nbd module) or that would install system-wide.
 */
@Timeout(900) // mkfs through FUSE and Argon2 key derivation, as the README runs them
class ReadmeIT {
    private static final String SKIP = "<!-- not run by ReadmeIT: ";

    @TempDir
    Path dir;

    /** A fenced sh block: its text, and the reason it is not run (null if it is). */
    record Block(String text, String skipReason) {
    }

    static List<Block> shBlocks(String readme) {
        List<Block> blocks = new ArrayList<>();
        List<String> lines = readme.lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).equals("```sh")) {
                continue;
            }
            String reason = null;
            for (int j = i - 1; j >= 0 && !lines.get(j).isBlank(); j--) {
                if (lines.get(j).startsWith(SKIP)) {
                    reason = String.join(" ", lines.subList(j, i)).substring(SKIP.length()).replace("-->", "").strip();
                }
            }
            StringBuilder text = new StringBuilder();
            for (i++; !lines.get(i).equals("```"); i++) {
                text.append(lines.get(i)).append('\n');
            }
            blocks.add(new Block(text.toString(), reason));
        }
        return blocks;
    }

    @AfterEach
    void cleanUp() {
        // What the examples leave when one fails halfway: a mount, a loop device, a server.
        Tools.run("sh", "-c", "umount /tmp/mnt 2>/dev/null; for l in $(losetup -j /tmp/dev/disk -O NAME -n); do "
                + "losetup -d $l; done; fusermount -u /tmp/dev 2>/dev/null; "
                + "test -f /tmp/disk.pid && kill $(cat /tmp/disk.pid); rm -f /tmp/disk.sock; true");
    }

    @Test
    void readmeCommandsRunAsWritten() throws Exception {
        Path root = InstallIT.root();
        List<Block> blocks = shBlocks(Files.readString(root.resolve("README.md")));
        assertTrue(blocks.size() >= 3, "sh blocks: " + blocks.size());
        Files.createSymbolicLink(dir.resolve("loopdev"), root.resolve("loopdev"));
        cleanUp();

        // The set-up: the serve command as written, in the background; then ./run-tests, which is this suite.
        Block setup = blocks.get(0);
        List<String> setupCommands = setup.text().lines().filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
        assertEquals(List.of("./loopdev serve disk.img --create 1G", "./run-tests"), setupCommands);
        runSetUpServe(setupCommands.get(0));

        int skipped = 0;
        for (Block b : blocks.subList(1, blocks.size())) {
            if (b.skipReason() != null) {
                skipped++;
                assertTrue(b.skipReason().contains("nbd module") || b.skipReason().contains("installs into /usr/local"),
                        "not run, and not for a reason this test accepts: " + b.skipReason());
                continue;
            }
            Tools.Result r = Tools.run(Duration.ofMinutes(5), Map.of(), List.of("bash", "-c",
                    "set -euo pipefail\ncd '" + dir + "'\n" + b.text()));
            assertEquals(0, r.exitCode(), () -> "a README block failed as written\n" + r.describe());
        }
        assertEquals(2, skipped, "blocks left out");
        assertTrue(Files.size(dir.resolve("disk.img")) == 1L << 30, "disk.img made by the set-up command");
    }

    /** Runs {@code command} as bash would in the background, waits for its NBD server, then stops it with ^C. */
    private void runSetUpServe(String command) throws Exception {
        Path log = dir.resolve("setup.log");
        Process p = new ProcessBuilder("bash", "-c", "cd '" + dir + "' && exec " + command)
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            Tools.Result info = null;
            for (int i = 0; i < 600 && (info == null || info.exitCode() != 0) && p.isAlive(); i++) {
                Thread.sleep(100);
                info = Tools.run("nbdinfo", "--size", "nbd://127.0.0.1:10809/");
            }
            assertTrue(info != null && info.exitCode() == 0, "the set-up command serves nothing on "
                    + "nbd://127.0.0.1:10809/\n" + Files.readString(log));
            assertEquals(String.valueOf(1L << 30), info.stdout().strip());
            Tools.ok("kill", "-INT", Long.toString(p.pid())); // Ctrl-C
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "still running after SIGINT\n" + Files.readString(log));
            assertEquals(0, p.exitValue(), () -> read(log));
            String out = read(log);
            assertTrue(out.contains("nbd://127.0.0.1:10809/") && out.contains("loopdev: SIGINT: closing connections"),
                    out);
            assertFalse(out.contains("\tat "), out);
        } finally {
            p.destroyForcibly();
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return e.toString();
        }
    }
}

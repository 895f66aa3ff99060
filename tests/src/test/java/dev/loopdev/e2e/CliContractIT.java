package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a script sees of the command line, each with the exact message and exit status: 2 for a command line that
 * is wrong, 1 for a runtime failure; one log format; errors that name the path or value; non-regular files refused
 * up front and block devices served; sizes read as qemu-img and coreutils read them; {@code --create} only after
 * every other check.
 */
class CliContractIT {
    private static final long MiB = 1 << 20;

    @TempDir
    Path dir;

    private String sock() {
        return dir.resolve("nbd.sock").toString();
    }

    /** Runs loopdev; asserts the status, nothing on stdout, and no stack trace; returns stderr. */
    private static String fails(int status, String... args) {
        Tools.Result r = LoopdevServer.cli(args);
        assertEquals(status, r.exitCode(), r::describe);
        assertEquals("", r.stdout(), () -> "nothing on stdout\n" + r.describe());
        assertFalse(r.stderr().contains("\tat ") || r.stderr().contains("Exception"), () -> "a stack trace\n"
                + r.describe());
        for (String line : r.stderr().strip().split("\n")) {
            assertTrue(line.startsWith("loopdev: ") || line.startsWith("Try 'loopdev"), () -> "log format\n"
                    + r.describe());
        }
        return r.stderr().strip();
    }

    @Test
    void usageErrorsExit2WithWhereHelpIs() {
        assertEquals("loopdev: Unknown option: '--bogus'\nTry 'loopdev serve --help' for more information.",
                fails(2, "serve", "--bogus"));
        assertEquals("loopdev: Missing required parameters: 'IMAGE', 'MOUNTPOINT'\nTry 'loopdev fuse --help' for "
                + "more information.", fails(2, "fuse"));
        assertTrue(fails(2, "serve", "x.img", "--block-size", "many").startsWith("loopdev: Invalid value for "
                + "option '--block-size': 'many' is not an int"));
        Path image = Images.sparse(dir, "disk.img", MiB);
        assertEquals("loopdev: --size-limit: '12Q' is not a size (a number of bytes with an optional suffix: K, M, "
                + "G, T, P, E (or KiB, MiB, ...) for powers of 1024, KB, MB, GB, ... for powers of 1000)",
                fails(2, "serve", image.toString(), "--unix", sock(), "--size-limit", "12Q"));
        assertEquals("loopdev: --offset: '0.3K' is not a whole number of bytes",
                fails(2, "serve", image.toString(), "--unix", sock(), "--offset", "0.3K"));
        assertEquals("loopdev: --block-size: must be 512, 1024, 2048 or 4096, not 1000",
                fails(2, "serve", image.toString(), "--unix", sock(), "--block-size", "1000"));
        assertEquals("loopdev: --write-path: must be auto, mapped or positional, not 'sideways'",
                fails(2, "serve", image.toString(), "--unix", sock(), "--write-path", "sideways"));
        assertEquals("loopdev: --tls require needs --tls-psk FILE or --tls-certificates DIR",
                fails(2, "serve", image.toString(), "--unix", sock(), "--tls", "require"));
    }

    @Test
    void runtimeErrorsExit1NamingThePath() throws Exception {
        Path missing = dir.resolve("no-such.img");
        assertEquals("loopdev: " + missing + ": No such file or directory",
                fails(1, "serve", missing.toString(), "--unix", sock()));
        assertEquals("loopdev: " + dir + ": a directory, not a regular file or a block device",
                fails(1, "serve", dir.toString(), "--unix", sock()));
        Path fifo = dir.resolve("fifo");
        Tools.ok("mkfifo", fifo.toString());
        assertEquals("loopdev: " + fifo + ": a FIFO, not a regular file or a block device",
                fails(1, "serve", fifo.toString(), "--unix", sock()));
        assertEquals("loopdev: /dev/null: a character device, not a regular file or a block device",
                fails(1, "serve", "/dev/null", "--unix", sock()));
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        assertEquals("loopdev: /dev/zero: a character device, not a regular file or a block device",
                fails(1, "fuse", "/dev/zero", mnt.toString()));
        Path image = Images.sparse(dir, "disk.img", MiB);
        Path socketInMissingDir = dir.resolve("gone").resolve("nbd.sock");
        String err = fails(1, "serve", image.toString(), "--unix", socketInMissingDir.toString());
        assertTrue(err.endsWith("loopdev: " + socketInMissingDir + ": No such file or directory"), err);
        assertFalse(Files.exists(dir.resolve("nbd.sock")));
        Path target = dir.resolve("gone").resolve("out.img");
        assertEquals("loopdev: " + target + ": No such directory: " + dir.resolve("gone"),
                fails(1, "encrypt", image.toString(), target.toString(), "--transform", "xor", "--key-file",
                        Images.keyFile(dir, Variant.KEY).toString()));
        assertEquals("loopdev: " + image + ": File exists", fails(1, "encrypt", image.toString(), image.toString(),
                "--transform", "xor", "--key-file", Images.keyFile(dir, Variant.KEY).toString()));
    }

    /** losetup takes a block device as its backing file; so does serve. */
    @Test
    void blockDeviceIsServed() throws Exception {
        Path backing = Images.random(dir, "backing.img", 4 * MiB, 7);
        String loop = Tools.ok("losetup", "--find", "--show", backing.toString()).stdout().strip();
        try (LoopdevServer server = LoopdevServer.unix(dir, Path.of(loop))) {
            String json = Tools.ok("nbdinfo", "--json", "--no-content", server.uri()).stdout();
            assertEquals(4 * MiB, Json.number(json, "export-size"));
            Path copy = dir.resolve("copy.img");
            Tools.ok("nbdcopy", server.uri(), copy.toString());
            Images.assertSameBytes(Images.readAll(backing), Images.readAll(copy), "read through " + loop);
            server.stop();
        } finally {
            Tools.run("losetup", "-d", loop);
        }
    }

    /** 1G and 1GiB are 2^30, 1GB is 10^9 (coreutils), 1.5G is qemu-img's 1.5 GiB; each as the file --create makes. */
    @Test
    void sizesAsQemuImgAndCoreutilsReadThem() {
        assertCreates("1G", 1L << 30);
        assertCreates("1GiB", 1L << 30);
        assertCreates("1GB", 1_000_000_000L);
        assertCreates("1.5G", 3L << 29);
        assertCreates("64k", 64 << 10);
        assertCreates("4096", 4096);
    }

    private void assertCreates(String size, long bytes) {
        Path image = dir.resolve("create-" + size + ".img");
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--create", size)) {
            assertEquals(bytes, image.toFile().length(), size);
            assertEquals(bytes, Json.number(Tools.ok("nbdinfo", "--json", "--no-content", server.uri()).stdout(),
                    "export-size"), size);
            server.stop();
        }
    }

    /** A device is whole blocks: what is cut off is said, with both sizes; so is --create meeting another size. */
    @Test
    void roundingAndSizeMismatchAreSaid() {
        Path image = dir.resolve("odd.img");
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--create", "1000")) {
            assertEquals(512, Json.number(Tools.ok("nbdinfo", "--json", "--no-content", server.uri()).stdout(),
                    "export-size"));
            server.stop();
            assertTrue(server.stderr().contains("loopdev: warning: " + image + ": 1000 bytes rounded down to 512, a "
                    + "whole number of 512-byte blocks; the last 488 bytes are not part of the device"),
                    server.stderr());
        }
        Path limited = Images.sparse(dir, "limited.img", MiB);
        try (LoopdevServer server = LoopdevServer.unix(dir, limited, "--sizelimit", "5000", "--block-size", "4096")) {
            server.stop();
            assertTrue(server.stderr().contains(limited + ": 5000 bytes (--size-limit) rounded down to 4096"),
                    server.stderr());
        }
        try (LoopdevServer server = LoopdevServer.unix(dir, limited, "--create", "2M")) {
            server.stop();
            assertTrue(server.stderr().contains("loopdev: warning: " + limited + " exists with 1048576 bytes (1 MiB), "
                    + "not the 2097152 bytes (2 MiB) of --create 2M: it is served as it is"), server.stderr());
        }
        assertEquals(MiB, limited.toFile().length());
    }

    /** --create makes its file only once everything else is known to be right, and a failed run leaves nothing. */
    @Test
    void createComesLastAndAFailedRunLeavesNothing() throws IOException {
        Path image = dir.resolve("new.img");
        fails(2, "serve", image.toString(), "--unix", sock(), "--create", "1G", "--tls", "require");
        fails(2, "serve", image.toString(), "--unix", sock(), "--create", "1G", "--offset", "lots");
        fails(2, "serve", image.toString(), "--unix", sock(), "--create", "lots");
        fails(1, "serve", image.toString(), "--unix", sock(), "--create", "1G", "--tls-psk",
                dir.resolve("no-keys.psk").toString());
        fails(1, "serve", image.toString(), "--unix", dir.resolve("gone").resolve("s").toString(), "--create", "1G");
        fails(2, "serve", image.toString(), "--unix", sock(), "--create", "1G", "--transform", "xor");
        assertFalse(Files.exists(image), "a failed run left " + image);
    }

    /** One format whoever logs, serve or fuse: "loopdev: ...", never a Java class or a timestamp. */
    @Test
    void oneLogFormatAndVerbosity() {
        Path image = Images.sparse(dir, "disk.img", MiB);
        String normal;
        try (LoopdevServer server = LoopdevServer.unix(dir, image)) {
            Tools.ok("nbdinfo", server.uri());
            server.stop();
            normal = server.stderr().replaceFirst("--- loopdev stderr ---\n", "");
        }
        assertTrue(normal.contains("loopdev: " + image + ": export '', 1048576 bytes (1 MiB), mapped write path\n"),
                normal);
        assertTrue(normal.contains("loopdev: SIGTERM: closing connections and flushing"), normal);
        assertAllLinesLoopdev(normal);
        assertFalse(normal.contains("loopdev: debug: "), normal);
        String verbose;
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "-v")) {
            Tools.ok("nbdinfo", server.uri());
            server.stop();
            verbose = server.stderr().replaceFirst("--- loopdev stderr ---\n", "");
        }
        assertTrue(verbose.contains("loopdev: debug: "), verbose);
        assertAllLinesLoopdev(verbose);
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--quiet")) {
            Tools.ok("nbdinfo", server.uri());
            server.stop();
            assertEquals("--- loopdev stderr ---\n", server.stderr());
        }
    }

    /** The FUSE command logs in the same format (it used the JDK's two-line one). */
    @Test
    void fuseLogsInTheSameFormat() throws Exception {
        Path image = Images.sparse(dir, "disk.img", MiB);
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        try (LoopdevServer fuse = LoopdevServer.fuse(dir, image, mnt, "-v")) {
            fuse.stop();
            String log = fuse.stderr().replaceFirst("--- loopdev stderr ---\n", "");
            assertTrue(log.contains("loopdev: SIGTERM: unmounting " + mnt), log);
            assertAllLinesLoopdev(log);
        }
    }

    private static void assertAllLinesLoopdev(String log) {
        for (String line : log.strip().split("\n")) {
            if (!line.startsWith("---")) {
                assertTrue(line.startsWith("loopdev: "), () -> "not in loopdev's format: '" + line + "'\n" + log);
            }
        }
    }

    /** A plain-mode transform has no header to check a key against: said once, and named in the INFO line. */
    @Test
    void plainModeSaysAWrongKeyCannotBeDetected() {
        Path a = Images.sparse(dir, "a.img", MiB);
        Path b = Images.sparse(dir, "b.img", MiB);
        Path key = Images.keyFile(dir, Variant.KEY);
        try (LoopdevServer server = LoopdevServer.unix(dir, a, "--export", "b=" + b, "--transform", "xor",
                "--key-file", key.toString())) {
            server.stop();
            String log = server.stderr();
            assertEquals(1, log.lines().filter(l -> l.equals("loopdev: warning: xor keeps no header, so a wrong key "
                    + "cannot be detected: the device then reads as garbage (check what you see before writing)"))
                    .count(), log);
            assertTrue(log.contains("loopdev: " + a + ": export '', 1048576 bytes (1 MiB), mapped write path, "
                    + "transform xor\n"), log);
            assertTrue(log.contains("loopdev: " + b + ": export 'b', 1048576 bytes (1 MiB), mapped write path, "
                    + "transform xor\n"), log);
        }
        try (LoopdevServer server = LoopdevServer.unix(dir, a)) {
            server.stop();
            assertFalse(server.stderr().contains("header"), server.stderr());
        }
    }

    /** losetup --json's shape, and a table with headers or nothing (as losetup -l), with no device attached. */
    @Test
    void listInLosetupsShape() {
        Tools.Result json = LoopdevServer.cli("list", "--json").ok();
        assertTrue(json.stdout().matches("(?s)\\{\\s*\"nbddevices\": \\[.*\\]\\s*\\}\\s*"), json::describe);
        Tools.Result table = LoopdevServer.cli("list").ok();
        assertTrue(table.stdout().isEmpty() || table.stdout().startsWith("NAME "), table::describe);
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Starting the frontends a scenario stacks, each registering its own teardown with a {@link FuseCleanup}. */
final class FuseStack {
    static final byte[] XOR_KEY = "k3y-0f-l00p".getBytes(StandardCharsets.US_ASCII); // 11: not a divisor of 512

    private FuseStack() {
    }

    /** loopdev's options for a write path and, optionally, the XOR transform with a key file in {@code dir}. */
    static String[] deviceOptions(Path dir, String writePath, boolean xor) throws IOException {
        if (!xor) {
            return new String[] {"--write-path", writePath};
        }
        Path key = dir.resolve("xor.key");
        if (!Files.exists(key)) {
            Files.write(key, XOR_KEY);
        }
        return new String[] {"--write-path", writePath, "--transform", "xor", "--key-file", key.toString()};
    }

    /**
     * {@code loopdev fuse IMAGE MNT}: the device file MNT/disk. Teardown: SIGTERM (exit 0, and the unmount must
     * not have found the file busy), then whatever is left is killed and lazily unmounted.
     */
    static FuseProcess fuse(FuseCleanup undo, Path dir, Path image, Path mnt, String... options) throws IOException {
        if (Files.notExists(mnt)) { // not "!exists": a dead mount there can be neither confirmed nor denied
            Files.createDirectories(mnt);
        }
        undo.add(() -> {
            if (FuseShell.isMountPoint(mnt)) {
                FuseShell.run("fusermount", "-u", "-z", mnt.toString());
            }
        });
        FuseProcess p = FuseProcess.fuse(dir, image, mnt, options);
        undo.add(p::close);
        undo.add(() -> {
            p.stop();
            assertFalse(p.log().contains("is busy"), () -> "unmounted while still in use\n" + p.log());
            assertFalse(FuseShell.isMountPoint(mnt), mnt + " is still mounted after loopdev exited");
        });
        return p;
    }

    /** {@code loopdev serve} on a unix socket, then {@code nbdfuse MNT/disk URI}: the device file MNT/disk. */
    static FuseProcess nbdfuse(FuseCleanup undo, Path dir, Path image, Path mnt, String... options)
            throws IOException {
        FuseProcess server = FuseProcess.serve(dir, image, dir.resolve("nbd.sock"), options);
        undo.add(server::close);
        undo.add(server::stop);
        Files.createDirectories(mnt);
        Path pidfile = dir.resolve("nbdfuse.pid");
        Files.deleteIfExists(pidfile);
        Process nbdfuse = new ProcessBuilder("nbdfuse", "-P", pidfile.toString(), mnt.resolve("disk").toString(),
                server.firstLine()).redirectErrorStream(true).redirectOutput(dir.resolve("nbdfuse.log").toFile())
                .start();
        undo.add(() -> FuseShell.kill(nbdfuse));
        undo.add(() -> {
            FuseShell.ok("fusermount3", "-u", mnt.toString());
            if (!nbdfuse.waitFor(10, TimeUnit.SECONDS)) {
                fail("nbdfuse did not exit after fusermount3 -u");
            }
        });
        for (int i = 0; i < 300 && !Files.exists(pidfile); i++) {
            if (!nbdfuse.isAlive()) {
                fail("nbdfuse exited " + nbdfuse.exitValue() + ": " + Files.readString(dir.resolve("nbdfuse.log")));
            }
            sleep(100);
        }
        if (!Files.exists(pidfile)) {
            fail("nbdfuse did not become ready in 30 s: " + Files.readString(dir.resolve("nbdfuse.log")));
        }
        return server;
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    static List<String> tools() {
        return List.of("losetup", "mkfs.ext4", "e2fsck", "debugfs", "mount", "umount", "sync", "fusermount",
                "fusermount3", "kill");
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Nbdfuse;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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
    static LoopdevServer fuse(FuseCleanup undo, Path dir, Path image, Path mnt, String... options) throws IOException {
        if (Files.notExists(mnt)) { // not "!exists": a dead mount there can be neither confirmed nor denied
            Files.createDirectories(mnt);
        }
        undo.add(() -> {
            if (Tools.isMountPoint(mnt)) {
                Tools.run("fusermount", "-u", "-z", mnt.toString());
            }
        });
        LoopdevServer p = LoopdevServer.fuse(dir, image, mnt, options);
        undo.add(p::close);
        undo.add(() -> {
            p.stop();
            assertFalse(p.stderr().contains("is busy"), () -> "unmounted while still in use\n" + p.stderr());
            assertFalse(Tools.isMountPoint(mnt), mnt + " is still mounted after loopdev exited");
        });
        return p;
    }

    /** {@code loopdev serve} on a unix socket, then {@code nbdfuse MNT/disk URI}: the device file MNT/disk. */
    static LoopdevServer nbdfuse(FuseCleanup undo, Path dir, Path image, Path mnt, String... options)
            throws IOException {
        LoopdevServer server = LoopdevServer.unix(dir, image, options);
        undo.add(server::close);
        undo.add(server::stop);
        Nbdfuse nbdfuse = Nbdfuse.start(dir, mnt, server.uri());
        undo.add(nbdfuse::close);
        undo.add(nbdfuse::unmount);
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

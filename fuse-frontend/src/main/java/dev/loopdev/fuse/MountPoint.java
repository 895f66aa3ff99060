package dev.loopdev.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The directory a device file is mounted on: checked before mounting so that each way it can be unusable gives
 * one clear message instead of libfuse's, and unmounted with {@code fusermount}.
 */
final class MountPoint {
    private static final Logger LOG = Logger.getLogger(MountPoint.class.getName());
    static final String NOT_CONNECTED = "Transport endpoint is not connected";
    private static final long FUSERMOUNT_TIMEOUT_SECONDS = 10;

    private MountPoint() {
    }

    /**
     * Throws {@link FuseSetupException} unless {@code dir} is an empty directory that nothing is mounted on. A FUSE
     * mount left by a process that died ("Transport endpoint is not connected") is unmounted first when nothing
     * holds it open, since no one can use it any more; when something does, the user is told how to clear it.
     */
    static void check(Path dir) throws IOException {
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(dir, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new FuseSetupException(dir + ": no such directory (create it first)");
        } catch (FileSystemException e) {
            if (!NOT_CONNECTED.equals(e.getReason())) {
                throw e;
            }
            clearStaleMount(dir);
            attrs = Files.readAttributes(dir, BasicFileAttributes.class);
        }
        if (!attrs.isDirectory()) {
            throw new FuseSetupException(dir + ": not a directory");
        }
        Optional<String> type = mountedFsType(dir);
        if (type.isPresent()) {
            throw new FuseSetupException(dir + " is busy: a " + type.get()
                    + " file system is already mounted there (unmount it first, or choose another directory)");
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            if (entries.iterator().hasNext()) {
                throw new FuseSetupException(dir + " is not empty: mount on an empty directory");
            }
        }
    }

    private static void clearStaleMount(Path dir) throws IOException {
        if (fusermount(dir, false).isEmpty()) {
            LOG.info(dir + ": unmounted a stale FUSE mount left by a process that died");
            return;
        }
        throw new FuseSetupException(dir + ": a FUSE file system left there by a process that died (" + NOT_CONNECTED
                + ") is still in use; close what uses it, then run: fusermount -u " + dir);
    }

    /**
     * Unmounts with {@code fusermount -u} ({@code -z}: lazily, detaching it now and ending it when the last user
     * closes it). Returns empty on success, else fusermount's complaint.
     */
    static Optional<String> fusermount(Path dir, boolean lazy) throws IOException {
        List<String> cmd = lazy ? List.of("fusermount", "-u", "-z", dir.toAbsolutePath().toString())
                : List.of("fusermount", "-u", dir.toAbsolutePath().toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE)
                .start();
        p.getOutputStream().close();
        try {
            if (!p.waitFor(FUSERMOUNT_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return Optional.of("fusermount did not finish in " + FUSERMOUNT_TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            return Optional.of("interrupted");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        return p.exitValue() == 0 ? Optional.empty() : Optional.of(out.isEmpty() ? "exit " + p.exitValue() : out);
    }

    /** The type of the file system mounted exactly on {@code dir}, from /proc/self/mountinfo. */
    static Optional<String> mountedFsType(Path dir) throws IOException {
        String target = dir.toRealPath().toString();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
            // id parent major:minor root MOUNTPOINT options [optional...] - TYPE source superoptions
            String[] f = line.split(" ");
            int dash = line.indexOf(" - ");
            if (f.length > 4 && dash > 0 && unescape(f[4]).equals(target)) {
                return Optional.of(line.substring(dash + 3).split(" ")[0]);
            }
        }
        return Optional.empty();
    }

    /** mountinfo escapes space, tab, newline and backslash as \ooo. */
    private static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}

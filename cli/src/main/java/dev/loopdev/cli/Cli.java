package dev.loopdev.cli;

import dev.loopdev.Errno;
import dev.loopdev.nbd.NbdServer;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;

/** Small helpers shared by the subcommands. */
final class Cli {
    private Cli() {
    }

    /**
     * The NBD server's tuning: its defaults, save what {@code -Dloopdev.nbd.workers},
     * {@code -Dloopdev.nbd.inlineBytes}, {@code -Dloopdev.nbd.inlineWriteBytes}, {@code -Dloopdev.nbd.inPlace} and
     * {@code -Dloopdev.nbd.stallMillis} (in LOOPDEV_JAVA_OPTS) ask for, for experiments and comparisons.
     */
    static NbdServer.Tuning tuning() {
        NbdServer.Tuning d = NbdServer.Tuning.defaults();
        return new NbdServer.Tuning(Integer.getInteger("loopdev.nbd.workers", d.workers()),
                Integer.getInteger("loopdev.nbd.inlineBytes", d.maxInlineBytes()),
                Integer.getInteger("loopdev.nbd.inlineWriteBytes", d.maxInlineWriteBytes()), d.maxInFlightBytes(),
                d.maxInFlightRequests(), d.maxConnections(), d.handshakeMillis(), d.maxOptions(),
                d.maxOptionBytes(),
                Boolean.parseBoolean(System.getProperty("loopdev.nbd.inPlace", String.valueOf(d.inPlace()))),
                Long.getLong("loopdev.nbd.stallMillis", d.stallMillis()));
    }

    /**
     * One line that says what went wrong and, where there is one, which file: {@code PATH: reason}, in the words of
     * strerror(3) as coreutils prints them. Never a stack trace.
     */
    static String describe(Throwable e) {
        if (e instanceof FileSystemException f && f.getFile() != null) {
            String other = f.getOtherFile() == null ? "" : " -> " + f.getOtherFile();
            return f.getFile() + other + ": " + reason(f);
        }
        if (e instanceof FileNotFoundException) {
            // "PATH (reason)", as java.io words it
            String m = String.valueOf(e.getMessage());
            int open = m.lastIndexOf(" (");
            return open > 0 && m.endsWith(")") ? m.substring(0, open) + ": " + m.substring(open + 2, m.length() - 1) : m;
        }
        if (e instanceof OutOfMemoryError) {
            return "out of memory" + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")");
        }
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    private static String reason(FileSystemException f) {
        if (f.getReason() != null) {
            return f.getReason();
        }
        Errno errno = f instanceof NoSuchFileException ? Errno.ENOENT
                : f instanceof AccessDeniedException ? Errno.EACCES
                : f instanceof FileAlreadyExistsException ? Errno.EEXIST
                : f instanceof NotDirectoryException ? Errno.ENOTDIR
                : f instanceof DirectoryNotEmptyException ? Errno.ENOTEMPTY
                : null;
        if (errno != null) {
            return errno.message();
        }
        return f.getClass().getSimpleName();
    }

    /** {@code e} as an exception about {@code path}, unless its message already names it. */
    static IOException about(Path path, IOException e) {
        String m = describe(e);
        if (m.contains(path.toString())) {
            return e;
        }
        IOException named = new FileSystemException(path.toString(), null, m);
        named.initCause(e);
        return named;
    }
}

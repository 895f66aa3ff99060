package dev.loopdev.cli;

import dev.loopdev.nbd.NbdServer;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;

/** Small helpers shared by the subcommands. */
final class Cli {
    private Cli() {
    }

    /**
     * The NBD server's tuning: its defaults, save what {@code -Dloopdev.nbd.workers},
     * {@code -Dloopdev.nbd.inlineBytes}, {@code -Dloopdev.nbd.inPlace} and {@code -Dloopdev.nbd.stallMillis} (in
     * LOOPDEV_JAVA_OPTS) ask for, for experiments and comparisons.
     */
    static NbdServer.Tuning tuning() {
        NbdServer.Tuning d = NbdServer.Tuning.defaults();
        return new NbdServer.Tuning(Integer.getInteger("loopdev.nbd.workers", d.workers()),
                Integer.getInteger("loopdev.nbd.inlineBytes", d.maxInlineBytes()), d.maxInFlightBytes(),
                d.maxInFlightRequests(), d.maxConnections(), d.handshakeMillis(), d.maxOptions(),
                d.maxOptionBytes(),
                Boolean.parseBoolean(System.getProperty("loopdev.nbd.inPlace", String.valueOf(d.inPlace()))),
                Long.getLong("loopdev.nbd.stallMillis", d.stallMillis()));
    }

    /** One line that says what went wrong, without a stack trace. */
    static String describe(Throwable e) {
        if (e instanceof NoSuchFileException n) {
            return n.getFile() + ": no such file";
        }
        if (e instanceof AccessDeniedException a) {
            return a.getFile() + ": permission denied";
        }
        if (e instanceof FileAlreadyExistsException f) {
            return f.getFile() + ": already exists";
        }
        if (e instanceof java.net.BindException b) {
            return "cannot listen: " + b.getMessage();
        }
        String m = e.getMessage();
        return m == null ? e.toString() : m;
    }

    /** Parses a size with an optional binary suffix: 512, 64K, 10M, 2G, 1T (also KiB, MB, ... and a trailing B). */
    static long parseSize(String s) {
        String t = s.trim().toUpperCase(java.util.Locale.ROOT);
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("B")) {
            t = t.substring(0, t.length() - 1);
        }
        int shift = 0;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                case 'T' -> shift = 40;
                case 'P' -> shift = 50;
                default -> shift = 0;
            }
        }
        if (shift != 0) {
            t = t.substring(0, t.length() - 1);
        }
        long v;
        try {
            v = Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size: '" + s + "' (use a number with an optional K, M, G or T)");
        }
        if (v < 0 || (shift > 0 && v > (Long.MAX_VALUE >> shift))) {
            throw new IllegalArgumentException("not a size: '" + s + "'");
        }
        return v << shift;
    }
}

package dev.loopdev.cli;

import java.io.PrintStream;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * java.util.logging for the command line, in one format whatever logs: {@code loopdev: message}, with
 * {@code warning:}, {@code error:} or {@code debug:} before the message when it is not plain information, as
 * nbdkit and qemu-nbd log. Records go to stderr; stdout carries only results (a URI, a device name).
 */
final class Logs {
    static final String PROGRAM = "loopdev";

    /** Held so the level set on it survives: the LogManager keeps loggers only weakly. */
    private static final Logger PRODUCT = Logger.getLogger("dev.loopdev");

    private Logs() {
    }

    /** Replaces the JDK's two-line console format with ours, at INFO until {@link #level} says otherwise. */
    static void configure() {
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        root.addHandler(new StderrHandler());
        root.setLevel(Level.WARNING); // libraries: warnings only
        PRODUCT.setLevel(Level.INFO);
    }

    /** How much of our own logging shows: FINE with -v, WARNING with -q. */
    static void level(Level level) {
        PRODUCT.setLevel(level);
    }

    /** One record as one line. */
    static String format(LogRecord r) {
        StringBuilder b = new StringBuilder(128).append(PROGRAM).append(": ");
        int level = r.getLevel().intValue();
        if (level >= Level.SEVERE.intValue()) {
            b.append("error: ");
        } else if (level >= Level.WARNING.intValue()) {
            b.append("warning: ");
        } else if (level < Level.INFO.intValue()) {
            b.append("debug: ");
        }
        b.append(r.getMessage());
        if (r.getThrown() != null) {
            b.append(": ").append(Cli.describe(r.getThrown()));
        }
        return b.toString().replace('\n', ' ').stripTrailing();
    }

    /** Writes to whatever System.err is at the time (a daemon points it at a log file after start-up). */
    private static final class StderrHandler extends Handler {
        StderrHandler() {
            setLevel(Level.ALL);
        }

        @Override
        public void publish(LogRecord r) {
            if (!isLoggable(r)) {
                return;
            }
            PrintStream err = System.err;
            err.println(format(r));
            err.flush();
        }

        @Override
        public void flush() {
            System.err.flush();
        }

        @Override
        public void close() {
            flush();
        }
    }
}

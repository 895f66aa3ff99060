package dev.loopdev.cli;

import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** java.util.logging for the command line: one line per record, on stderr (stdout carries only results). */
final class Logs {
    /** Held so the level set on it survives: the LogManager keeps loggers only weakly. */
    private static final Logger PRODUCT = Logger.getLogger("dev.loopdev");

    private Logs() {
    }

    static void configure(boolean verbose) {
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        ConsoleHandler h = new ConsoleHandler();
        h.setFormatter(new OneLine());
        h.setLevel(Level.ALL);
        root.addHandler(h);
        root.setLevel(Level.WARNING);
        PRODUCT.setLevel(verbose ? Level.FINE : Level.INFO);
    }

    /** {@code 12:34:56.789 INFO NbdServer: message[: exception]}. */
    static final class OneLine extends Formatter {
        private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS");

        @Override
        public String format(LogRecord r) {
            String logger = r.getLoggerName() == null ? "" : r.getLoggerName();
            StringBuilder b = new StringBuilder(128)
                    .append(LocalTime.ofInstant(r.getInstant(), java.time.ZoneId.systemDefault()).format(TIME))
                    .append(' ').append(r.getLevel().getName()).append(' ')
                    .append(logger.substring(logger.lastIndexOf('.') + 1)).append(": ")
                    .append(formatMessage(r));
            if (r.getThrown() != null) {
                b.append(": ").append(r.getThrown());
            }
            return b.append(System.lineSeparator()).toString().replace('\n', ' ').stripTrailing()
                    + System.lineSeparator();
        }
    }
}

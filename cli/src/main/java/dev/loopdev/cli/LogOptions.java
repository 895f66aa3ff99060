package dev.loopdev.cli;

import java.util.logging.Level;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;

/** {@code -v} and {@code -q}, mixed into every subcommand; {@link Main} applies them before the command runs. */
final class LogOptions {
    @Option(names = {"-v", "--verbose"}, description = "Log more: each connection, refused request and decision.")
    boolean verbose;

    @Option(names = {"-q", "--quiet"}, description = "Log only warnings and errors.")
    boolean quiet;

    /** The level the innermost subcommand on the command line asked for (INFO when it said nothing). */
    static Level levelOf(ParseResult parsed) {
        ParseResult p = parsed;
        while (p.subcommand() != null) {
            p = p.subcommand();
        }
        if (p.hasMatchedOption("--verbose")) {
            return Level.FINE;
        }
        return p.hasMatchedOption("--quiet") ? Level.WARNING : Level.INFO;
    }
}

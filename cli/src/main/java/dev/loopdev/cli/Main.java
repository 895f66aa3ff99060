package dev.loopdev.cli;

import com.sun.jna.Platform;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.Properties;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParameterException;

/**
 * The {@code loopdev} command. Nothing else depends on this module.
 *
 * <p>Exit status, as grep's and losetup's: 0 success, 1 a runtime error (a file, the network, the kernel), 2 a
 * usage error (the command line itself is wrong: an unknown option, a value that is not a size, options that
 * exclude each other). {@code serve --run} exits with its command's status. An error is one line on stderr,
 * {@code loopdev: what: what is wrong}; never a stack trace ({@code -Dloopdev.debug=true} adds them).
 */
@Command(name = "loopdev",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Attach a file as a block device from userspace, over NBD or FUSE.",
        subcommands = {
            ServeCommand.class,
            AttachCommand.class,
            DetachCommand.class,
            ListCommand.class,
            FuseCommand.class,
            EncryptCommand.class,
            DecryptCommand.class,
            LuksCommand.class,
            CommandLine.HelpCommand.class,
        })
public final class Main {
    static final int EXIT_RUNTIME = 1;
    static final int EXIT_USAGE = 2;
    private static final boolean DEBUG = Boolean.getBoolean("loopdev.debug");

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit status. */
    public static int run(String... args) {
        // JNA opens libc with dlopen(3); only its fallback search path needs the platform's library directories,
        // and finding them runs "ldconfig -p" in a child process at every start (a tenth of a serve's start-up).
        if (System.getProperty("jna.platform.library.path") == null) {
            System.setProperty("jna.platform.library.path", "/usr/lib:/lib");
        }
        if (System.getProperty("jna.boot.library.path") == null) {
            jnaNativeDirectory().ifPresent(dir -> System.setProperty("jna.boot.library.path", dir.toString()));
        }
        Logs.configure();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
            Logger.getLogger(Main.class.getName()).severe(t.getName() + ": " + Cli.describe(e));
            if (DEBUG) {
                e.printStackTrace();
            }
        });
        CommandLine only = args.length == 0 ? null : subcommand(args[0]);
        return only != null ? execute(only, Arrays.copyOfRange(args, 1, args.length)) : execute(commandLine(), args);
    }

    /**
     * The directory with JNA's native library for this platform that the build puts next to the jar
     * ({@code jna/linux-x86-64/libjnidispatch.so}), if there is one. Without it JNA copies the library out of the
     * jar into a temporary file and loads that, at every start.
     */
    static Optional<Path> jnaNativeDirectory() {
        try {
            Path code = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path dir = code.resolveSibling("jna").resolve(Platform.RESOURCE_PREFIX);
            return Files.isRegularFile(dir.resolve(System.mapLibraryName("jnidispatch"))) ? Optional.of(dir)
                    : Optional.empty();
        } catch (RuntimeException | URISyntaxException e) { // no code source (or not a file): JNA's own way
            return Optional.empty();
        }
    }

    /** Executes a configured command line: whatever it throws, an Error included, is one line and status 1. */
    static int execute(CommandLine cl, String... args) {
        try {
            return cl.execute(args);
        } catch (Throwable e) { // an Error picocli lets through
            System.err.println(Logs.PROGRAM + ": " + Cli.describe(e));
            if (DEBUG) {
                e.printStackTrace();
            }
            return EXIT_RUNTIME;
        }
    }

    /** The whole command tree, with loopdev's logging, error reporting and exit codes. */
    static CommandLine commandLine() {
        return configure(new CommandLine(new Main()));
    }

    /**
     * The subcommand {@code name} on its own, named "loopdev NAME" in its messages, or null if there is no such
     * one (or it is {@code help}, which needs the others). Start-up: picocli's model of every subcommand was half
     * the CPU a {@code serve} spent before it listened; a command line that starts with its subcommand, as every
     * real one does, builds only that one.
     */
    static CommandLine subcommand(String name) {
        for (Class<?> c : Main.class.getAnnotation(Command.class).subcommands()) {
            if (c != CommandLine.HelpCommand.class && c.getAnnotation(Command.class).name().equals(name)) {
                try {
                    CommandLine cl = new CommandLine(CommandLine.defaultFactory().create(c));
                    cl.setCommandName(Logs.PROGRAM + " " + name);
                    return configure(cl);
                } catch (Exception e) {
                    throw new IllegalStateException(name + ": " + e, e);
                }
            }
        }
        return null;
    }

    /** loopdev's logging, error reporting and exit codes for {@code cl}; the version for it and every subcommand. */
    static CommandLine configure(CommandLine cl) {
        setVersion(cl);
        cl.setExecutionStrategy(parsed -> {
            Logs.level(LogOptions.levelOf(parsed));
            return new CommandLine.RunLast().execute(parsed);
        });
        cl.setParameterExceptionHandler(Main::usageError);
        cl.setExecutionExceptionHandler((e, commandLine, parsed) -> {
            commandLine.getErr().println(Logs.PROGRAM + ": " + Cli.describe(e));
            if (DEBUG) {
                e.printStackTrace(commandLine.getErr());
            }
            return e instanceof IllegalArgumentException ? EXIT_USAGE : EXIT_RUNTIME;
        });
        return cl;
    }

    private static void setVersion(CommandLine cl) {
        cl.getCommandSpec().versionProvider(new Version());
        for (CommandLine sub : cl.getSubcommands().values()) {
            setVersion(sub);
        }
    }

    /** What picocli could not parse: the reason, and where help is, as coreutils say it. */
    private static int usageError(ParameterException e, String[] args) {
        CommandLine cl = e.getCommandLine();
        PrintWriter err = cl.getErr();
        err.println(Logs.PROGRAM + ": " + e.getMessage());
        err.println("Try '" + cl.getCommandSpec().qualifiedName() + " --help' for more information.");
        return EXIT_USAGE;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {"loopdev " + p.getProperty("version", "unknown")
                    + " (Java " + Runtime.version() + ")"};
        }
    }
}

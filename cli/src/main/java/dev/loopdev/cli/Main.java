package dev.loopdev.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code loopdev} command. Nothing else depends on this module. */
@Command(name = "loopdev",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Attach a file as a block device from userspace, over NBD or FUSE.",
        subcommands = {ServeCommand.class, AttachCommand.class, DetachCommand.class, ListCommand.class,
                FuseCommand.class, EncryptCommand.class, DecryptCommand.class, LuksCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line; errors are one clear line on stderr and a non-zero exit code. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("loopdev: " + Cli.describe(e));
            if (Boolean.getBoolean("loopdev.debug")) {
                e.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        return cl.execute(args);
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

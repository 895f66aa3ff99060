package dev.loopdev.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** What every subcommand shares, and the size syntax. */
class CommandLineTest {
    /** Every command a user can run: the leaves of the tree and the groups above them, help aside. */
    static List<CommandLine> everyCommand() {
        List<CommandLine> all = new ArrayList<>();
        collect(Main.commandLine(), all);
        return all;
    }

    private static void collect(CommandLine cl, List<CommandLine> into) {
        for (CommandLine sub : cl.getSubcommands().values()) {
            if (!sub.getCommandName().equals("help") && !into.contains(sub)) {
                into.add(sub);
                collect(sub, into);
            }
        }
    }

    @Test
    void everySubcommandTakesVerboseQuietHelpAndVersion() {
        List<CommandLine> commands = everyCommand();
        assertTrue(commands.size() >= 7, commands::toString);
        for (CommandLine cl : commands) {
            for (String option : new String[] {"-v", "--verbose", "-q", "--quiet", "-h", "--help", "-V", "--version"}) {
                assertNotNull(cl.getCommandSpec().findOption(option),
                        () -> cl.getCommandSpec().qualifiedName() + " lacks " + option);
            }
        }
    }

    /** Run on its own (the start-up path) or in the tree (help, man pages), a subcommand is the same command. */
    @Test
    void aSubcommandOnItsOwnIsTheSameAsInTheTree() {
        for (CommandLine inTree : Main.commandLine().getSubcommands().values()) {
            String name = inTree.getCommandName();
            CommandLine alone = Main.subcommand(name);
            if (name.equals("help")) {
                assertEquals(null, alone);
                continue;
            }
            assertEquals("loopdev " + name, alone.getCommandSpec().qualifiedName());
            assertEquals(inTree.getUsageMessage(CommandLine.Help.Ansi.OFF),
                    alone.getUsageMessage(CommandLine.Help.Ansi.OFF));
        }
    }

    /** An Error out of a command (OutOfMemoryError, say) is one line and status 1, never a stack trace. */
    @Test
    void anErrorIsOneLine() {
        @CommandLine.Command(name = "thrower")
        class Thrower implements java.util.concurrent.Callable<Integer> {
            @Override
            public Integer call() {
                throw new OutOfMemoryError("Requested array size exceeds VM limit");
            }
        }
        java.io.PrintStream err = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true));
        try {
            assertEquals(1, Main.execute(Main.configure(new CommandLine(new Thrower()))));
        } finally {
            System.setErr(err);
        }
        assertEquals("loopdev: out of memory (Requested array size exceeds VM limit)\n", captured.toString());
    }

    @Test
    void everyCommandHasTheVersion() {
        for (CommandLine cl : everyCommand()) {
            assertTrue(cl.getCommandSpec().version()[0].startsWith("loopdev "), cl::getCommandName);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"--bogus", "serve --bogus", "serve --block-size many x.img", "fuse", "encrypt a.img",
        "list extra"})
    void usageErrorsExit2(String line) {
        assertEquals(2, Main.run(line.split(" ")));
    }

    @ParameterizedTest
    @CsvSource({"0, 0", "512, 512", "512B, 512", "64K, 65536", "64k, 65536", "64KiB, 65536", "64KB, 64000",
        "1M, 1048576", "1MB, 1000000", "1G, 1073741824", "1GiB, 1073741824", "1GB, 1000000000", "1gb, 1000000000",
        "1.5G, 1610612736", "0.5K, 512", "1.0, 1", "2T, 2199023255552", "1TB, 1000000000000", "1P, 1125899906842624",
        "7E, 8070450532247928832", "' 4M ', 4194304"})
    void sizes(String text, long bytes) {
        assertEquals(bytes, Sizes.parse("--size", text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "-1", "1.5", "0.3K", "1X", "G", "1 G B", "1GiBB", "8E", "1e3", "0x10", "1,5G"})
    void notSizes(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sizes.parse("--size", text));
        assertTrue(e.getMessage().startsWith("--size: '" + text + "' is "), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"512, 512 bytes", "1024, 1024 bytes (1 KiB)", "1073741824, 1073741824 bytes (1 GiB)",
        "1610612736, 1610612736 bytes (1.5 GiB)", "1000000000, 1000000000 bytes (953.7 MiB)"})
    void sizesShown(long bytes, String shown) {
        assertEquals(shown, Sizes.show(bytes));
    }
}

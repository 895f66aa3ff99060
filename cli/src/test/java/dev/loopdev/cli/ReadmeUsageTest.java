package dev.loopdev.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The README's usage synopsis and the commands' --help agree: every option the README gives a command, the command
 * takes; and every option a command takes (but the luks actions, which luks/README.md documents) the README shows
 * it with, under one of its names.
 */
class ReadmeUsageTest {
    private static final Pattern OPTION = Pattern.compile("(?<![\\w-])(--?[a-zA-Z][a-zA-Z0-9-]*)");
    private static final Pattern GROUP_USE = Pattern.compile("\\[(device|key|format) options\\]");

    /** The ```text block under "## Usage": commands, and the option groups they refer to. */
    private static List<String> synopsis() throws IOException {
        String readme = Files.readString(Path.of("..", "README.md"));
        int usage = readme.indexOf("\n## Usage\n");
        assertTrue(usage >= 0, "README has no Usage section");
        int from = readme.indexOf("```text\n", usage);
        int to = readme.indexOf("\n```", from + 8);
        assertTrue(from > 0 && to > from, "the Usage section has no ```text synopsis");
        return readme.substring(from + 8, to).lines().toList();
    }

    /** Each command line (with its continuation lines) and each "NAME options:" or "every command:" group. */
    private static Map<String, String> entries() throws IOException {
        Map<String, String> entries = new LinkedHashMap<>();
        String current = null;
        for (String full : synopsis()) {
            String line = full.replaceAll("\\s+#.*", ""); // a comment after the options
            if (line.isBlank()) {
                current = null;
            } else if (line.startsWith("./loopdev ")) {
                String[] words = line.substring("./loopdev ".length()).split("\\s+");
                current = words[0].equals("luks") ? "luks " + words[1] : words[0];
                entries.merge(current, line, (a, b) -> a + " " + b); // a command may have several lines
            } else if (!line.startsWith(" ") && line.contains(":")) {
                current = line.substring(0, line.indexOf(':'));
                entries.put(current, line.substring(line.indexOf(':') + 1));
            } else if (current != null) {
                entries.merge(current, " " + line, String::concat);
            }
        }
        return entries;
    }

    /** The options the README gives a command: its line, the groups it names, "every command". */
    private static Set<String> readmeOptions(Map<String, String> entries, String command) {
        String line = entries.get(command);
        String text = line + " " + entries.getOrDefault("every command", "");
        Matcher g = GROUP_USE.matcher(line);
        Set<String> groups = new HashSet<>();
        while (g.find()) {
            groups.add(g.group(1) + " options");
        }
        if (groups.contains("device options")) {
            groups.add("key options"); // device options name [key options] themselves
        }
        for (String group : groups) {
            assertNotNull(entries.get(group), () -> "the README's " + command + " refers to " + group
                    + ", which it does not define");
            text += " " + entries.get(group);
        }
        Set<String> options = new HashSet<>();
        Matcher m = OPTION.matcher(text);
        while (m.find()) {
            options.add(m.group(1));
        }
        return options;
    }

    @Test
    void readmeAndHelpAgreeOnEveryOption() throws IOException {
        Map<String, String> entries = entries();
        CommandLine root = Main.commandLine();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, String> e : entries.entrySet()) {
            String key = e.getKey();
            if (key.endsWith(" options") || key.equals("every command")) {
                continue;
            }
            for (String name : key.split("\\|")) { // "luks dump|add-key|..." lists several actions
                String command = key.startsWith("luks ") && !name.startsWith("luks ") ? "luks " + name : name;
                CommandLine cl = find(root, command);
                if (cl == null) {
                    problems.add("the README shows 'loopdev " + command + "', which does not exist");
                    continue;
                }
                Set<String> shown = readmeOptions(entries, key);
                for (String option : shown) {
                    if (cl.getCommandSpec().findOption(option) == null) {
                        problems.add("loopdev " + command + " does not take " + option + ", which the README shows");
                    }
                }
                if (command.startsWith("luks ")) {
                    continue; // the luks actions are documented in full in luks/README.md
                }
                for (OptionSpec o : cl.getCommandSpec().options()) {
                    if (!o.hidden() && java.util.Arrays.stream(o.names()).noneMatch(shown::contains)) {
                        problems.add("loopdev " + command + " takes " + String.join("|", o.names())
                                + ", which the README's synopsis does not show");
                    }
                }
            }
        }
        assertFalse(entries.isEmpty());
        if (!problems.isEmpty()) {
            fail(String.join("\n", problems));
        }
    }

    private static CommandLine find(CommandLine root, String command) {
        CommandLine cl = root;
        for (String word : command.split(" ")) {
            cl = cl.getSubcommands().get(word);
            if (cl == null) {
                return null;
            }
        }
        return cl;
    }
}

package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The checkout's launcher: on first use it builds, and two first runs at once (a script starting two servers) do
 * not build twice or break each other's build; once built, it runs at once. On a copy of the sources, so that the
 * build under test is not the one the other tests use.
 */
@Timeout(600) // a whole build of the copy, on a machine other builds share
class LauncherIT {
    private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(10);

    @TempDir
    Path dir;

    @Test
    void twoFirstRunsAtOnceBuildOnce() throws Exception {
        Path copy = Files.createDirectory(dir.resolve("src"));
        Tools.ok("bash", "-c", "tar -C '" + InstallIT.root() + "' --exclude=./.git --exclude=target -cf - . "
                + "| tar -C '" + copy + "' -xf -");
        assertFalse(Files.exists(copy.resolve("cli/target")));
        String script = """
                ./loopdev --version > one.out 2> one.err & a=$!
                ./loopdev --version > two.out 2> two.err & b=$!
                wait $a; echo "one $?"
                wait $b; echo "two $?"
                """;
        Tools.Result r = Tools.run(BUILD_TIMEOUT, Map.of(), List.of("bash", "-c", "cd '" + copy + "'\n" + script));
        String one = Files.readString(copy.resolve("one.err"));
        String two = Files.readString(copy.resolve("two.err"));
        String both = "--- one ---\n" + one + "--- two ---\n" + two + "\n" + r.describe();
        assertTrue(r.stdout().contains("one 0") && r.stdout().contains("two 0"), both);
        assertTrue(Files.readString(copy.resolve("one.out")).startsWith("loopdev "), both);
        assertTrue(Files.readString(copy.resolve("two.out")).startsWith("loopdev "), both);
        String building = "loopdev: building (first use or sources changed)...";
        assertEquals(1, (one + two).lines().filter(building::equals).count(), both);
        assertTrue(Files.isRegularFile(copy.resolve("cli/target/loopdev.jsa")), "the class-data archive");

        Tools.Result again = Tools.run(Duration.ofSeconds(60), Map.of(), List.of(copy.resolve("loopdev").toString(),
                "--version")).ok();
        assertEquals("", again.stderr(), again::describe);
    }
}

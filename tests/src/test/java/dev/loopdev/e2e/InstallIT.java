package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./loopdev install --prefix DIR} and {@code ./loopdev deb}: the installed command runs for a user who is not
 * root, never builds, has picocli's man pages and bash completion, and its systemd units check out and serve an
 * image when systemd hands them the socket.
 */
@Timeout(600) // an install formats man pages and records a class-data archive
class InstallIT {
    private static final Duration INSTALL_TIMEOUT = Duration.ofMinutes(5);
    /** nobody: no home directory, no groups. */
    private static final String NOBODY = "65534";
    private static final String[] COMMANDS = {"serve", "attach", "detach", "list", "fuse", "encrypt", "decrypt"};

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Tools.require("asciidoctor", "systemd-analyze", "systemd-socket-activate", "setpriv", "man", "dpkg-deb",
                "nbdinfo");
    }

    static Path root() {
        return LoopdevServer.jar().getParent().getParent().getParent();
    }

    /** Runs {@code script} with bash as nobody, with nothing of root's environment. */
    private static Tools.Result asNobody(String script) {
        return Tools.run(Duration.ofSeconds(120), Map.of(), List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY,
                "--clear-groups", "env", "-i", "PATH=" + Tools.PATH, "HOME=/nonexistent", "LC_ALL=C", "bash", "-c",
                script));
    }

    /** A directory nobody can use, under a temporary directory it could not even enter. */
    private Path nobodysDir(String name) throws IOException {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path d = Files.createDirectory(dir.resolve(name));
        Tools.ok("chown", NOBODY + ":" + NOBODY, d.toString());
        return d;
    }

    @Test
    void installIntoAPrefixAndRunAsNobody() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path prefix = dir.resolve("prefix");
        Tools.Result install = Tools.run(INSTALL_TIMEOUT, Map.of(), List.of(root().resolve("loopdev").toString(),
                "install", "--prefix", prefix.toString())).ok();
        assertTrue(install.stderr().contains("loopdev: installed in " + prefix), install::describe);
        assertFalse(install.stderr().contains("building"), "the jar was built already\n" + install.describe());

        Path bin = prefix.resolve("bin/loopdev");
        assertTrue(Files.isExecutable(bin), bin::toString);
        assertFalse(Files.readString(bin).contains("mvn"), "the installed command must never build");
        assertTrue(Files.isRegularFile(prefix.resolve("lib/loopdev/loopdev.jar")));
        assertTrue(Files.isRegularFile(prefix.resolve("lib/loopdev/loopdev.jsa")), "the class-data archive");
        assertTrue(Files.isRegularFile(prefix.resolve("lib/loopdev/jna/linux-x86-64/libjnidispatch.so")),
                "JNA's native library");

        // As nobody: the version, then a captive serve of an image it creates, answered by nbdinfo.
        Path work = nobodysDir("work");
        Tools.Result version = asNobody(bin + " --version").ok();
        assertTrue(version.stdout().startsWith("loopdev "), version::describe);
        // The long-running commands' JIT options (jit.options beside the jar) reach the JVM; a quick one's do not.
        Tools.Result flags = asNobody("LOOPDEV_JAVA_OPTS=-XX:+PrintFlagsFinal " + bin + " --version").ok();
        assertTrue(flags.stdout().matches("(?s).*Tier4InvocationThreshold += 50000 +\\{product\\} \\{command line\\}.*"),
                flags::describe);
        Tools.Result quick = asNobody("LOOPDEV_JAVA_OPTS=-XX:+PrintFlagsFinal " + bin + " list").ok();
        assertTrue(quick.stdout().matches("(?s).*TieredStopAtLevel += 1 .*"), quick::describe);
        assertFalse(quick.stdout().matches("(?s).*Tier4InvocationThreshold += 50000 .*"), quick::describe);
        Tools.Result serve = asNobody(bin + " serve " + work.resolve("disk.img") + " --create 16M --unix "
                + work.resolve("nbd.sock") + " --run 'nbdinfo --size \"$uri\"'").ok();
        assertEquals("16777216", serve.stdout().strip(), serve::describe);
        assertTrue(serve.stderr().contains("loopdev: created " + work.resolve("disk.img")), serve::describe);
        // JNA's native library loaded from beside the jar, not copied out of it into a temporary file.
        Path jna = prefix.resolve("lib/loopdev/jna/linux-x86-64/libjnidispatch.so");
        Tools.Result maps = asNobody(bin + " serve " + work.resolve("disk.img") + " --unix " + work.resolve("nbd.sock")
                + " --run 'grep -o \"[^ ]*libjnidispatch[^ ]*\" /proc/$PPID/maps | sort -u'").ok();
        assertEquals(jna.toString(), maps.stdout().strip(), maps::describe);

        // picocli's man pages, one per command, and its bash completion.
        for (String c : COMMANDS) {
            Path page = prefix.resolve("share/man/man1/loopdev-" + c + ".1.gz");
            assertTrue(Files.isRegularFile(page), page::toString);
        }
        for (String c : COMMANDS) { // whole pages: every option through the last ones, -v and -V
            Tools.Result man = Tools.run(Duration.ofSeconds(60), Map.of("MANPATH",
                    prefix.resolve("share/man").toString(), "MANWIDTH", "100"), List.of("man", "-P", "cat",
                    "loopdev-" + c)).ok();
            assertTrue(man.stdout().contains("loopdev-" + c + " - ") && man.stdout().contains("-v, --verbose")
                    && man.stdout().contains("-V, --version"), man::describe);
            if (c.equals("serve")) {
                assertTrue(man.stdout().contains("--sizelimit, --size-limit=SIZE")
                        && man.stdout().contains("--export=NAME=IMAGE|NAME"), man::describe);
            }
        }
        Path completion = prefix.resolve("share/bash-completion/completions/loopdev");
        Tools.Result complete = Tools.ok("bash", "-c", "source " + completion + "; COMP_LINE='loopdev se'; "
                + "COMP_POINT=10; COMP_WORDS=(loopdev se); COMP_CWORD=1; _complete_loopdev; "
                + "printf '%s\\n' \"${COMPREPLY[@]}\"; COMP_LINE='loopdev serve --size'; COMP_POINT=21; "
                + "COMP_WORDS=(loopdev serve --size); COMP_CWORD=2; _complete_loopdev; printf '%s\\n' \"${COMPREPLY[@]}\"");
        assertTrue(complete.stdout().lines().anyMatch(l -> l.equals("serve"))
                && complete.stdout().lines().anyMatch(l -> l.equals("--size-limit")), complete::describe);

        checkSystemdUnits(prefix);
    }

    /** systemd-analyze accepts the units; serving as the socket unit describes, the service's ExecStart works. */
    private void checkSystemdUnits(Path prefix) throws Exception {
        Path units = prefix.resolve("lib/systemd/system");
        Tools.run(Duration.ofSeconds(60), Map.of("MANPATH", prefix.resolve("share/man").toString()),
                List.of("systemd-analyze", "verify", units.resolve("loopdev@.socket").toString(),
                        units.resolve("loopdev@.service").toString())).ok();
        String socketUnit = Files.readString(units.resolve("loopdev@.socket"));
        String serviceUnit = Files.readString(units.resolve("loopdev@.service"));
        assertTrue(socketUnit.contains("\nListenStream=/run/loopdev/%i.sock\n"), socketUnit);
        String exec = serviceUnit.lines().filter(l -> l.startsWith("ExecStart=")).findFirst().orElseThrow()
                .substring("ExecStart=".length());
        assertEquals(prefix + "/bin/loopdev serve /var/lib/loopdev/%i.img $LOOPDEV_OPTS", exec);

        // As systemd would: the instance "disk", its socket made and passed (LISTEN_FDS), the command run as written,
        // with this test's directories for /var/lib/loopdev and /run/loopdev.
        Path lib = Files.createDirectories(dir.resolve("var-lib-loopdev"));
        Path run = Files.createDirectories(dir.resolve("run-loopdev"));
        Images.random(lib, "disk.img", 4 << 20, 41);
        Path socket = run.resolve("disk.sock");
        List<String> cmd = new ArrayList<>(List.of("systemd-socket-activate", "-l", socket.toString()));
        for (String word : exec.replace("%i", "disk").replace("$LOOPDEV_OPTS", "").strip().split(" +")) {
            cmd.add(word.replace("/var/lib/loopdev", lib.toString()));
        }
        Path log = dir.resolve("service.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            String uri = "nbd+unix:///?socket=" + socket;
            Tools.Result info = null;
            for (int i = 0; i < 300 && (info == null || info.exitCode() != 0); i++) {
                Thread.sleep(100);
                info = Tools.run("nbdinfo", "--size", uri);
            }
            assertEquals("4194304", info.stdout().strip(), info.describe() + "\n" + Files.readString(log));
            p.destroy();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the service did not stop on SIGTERM");
            assertEquals(0, p.exitValue(), () -> log.toString());
            assertTrue(Files.readString(log).contains("loopdev: SIGTERM: closing connections and flushing"),
                    Files.readString(log));
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void debianPackage() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path out = Files.createDirectory(dir.resolve("out"));
        Tools.Result r = Tools.run(INSTALL_TIMEOUT, Map.of(), List.of(root().resolve("loopdev").toString(), "deb",
                out.toString())).ok();
        Path deb = Path.of(r.stdout().strip());
        assertTrue(deb.getFileName().toString().matches("loopdev_[0-9.]+_all\\.deb"), r::describe);
        String info = Tools.ok("dpkg-deb", "--info", deb.toString()).stdout();
        assertTrue(info.contains("Depends: default-jre-headless (>= 2:1.17) | java17-runtime-headless, "
                + "libfuse2 | libfuse2t64"), info);
        String contents = Tools.ok("dpkg-deb", "--contents", deb.toString()).stdout();
        for (String path : new String[] {"./usr/bin/loopdev", "./usr/lib/loopdev/loopdev.jar",
            "./usr/lib/loopdev/cds-archive.sh", "./usr/lib/loopdev/jit.options",
            "./usr/lib/loopdev/jna/linux-x86-64/libjnidispatch.so",
            "./usr/share/man/man1/loopdev-serve.1.gz",
            "./usr/share/bash-completion/completions/loopdev", "./usr/lib/systemd/system/loopdev@.socket",
            "./usr/lib/systemd/system/loopdev@.service", "./usr/share/doc/loopdev/LICENSE"}) {
            assertTrue(contents.contains(" " + path + "\n"), () -> path + " missing\n" + contents);
        }
        String service = Tools.ok("bash", "-c", "dpkg-deb --fsys-tarfile " + deb
                + " | tar -xO ./usr/lib/systemd/system/loopdev@.service").stdout();
        assertTrue(service.contains("\nExecStart=/usr/bin/loopdev serve "), service);
        // Unpacked anywhere, its command runs for nobody from the files next to it.
        Path tree = nobodysDir("tree");
        Tools.ok("dpkg-deb", "-x", deb.toString(), tree.toString());
        Tools.Result version = asNobody(tree.resolve("usr/bin/loopdev") + " --version").ok();
        assertTrue(version.stdout().startsWith("loopdev "), version::describe);
    }
}

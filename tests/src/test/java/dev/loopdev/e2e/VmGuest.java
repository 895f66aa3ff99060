package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A throw-away Linux VM with the kernel's real NBD client, under software emulation (no KVM): Debian's stock
 * kernel and modules, busybox as init, and the host's root file system shared read-only over 9p (so the guest
 * runs the host's JDK, e2fsprogs and loopdev jar, at the host's paths). Everything is downloaded from Debian by
 * tests/vm/fetch.sh on first use and cached (LOOPDEV_VM_CACHE, default /var/cache/loopdev-vm). The {@link Kernel}
 * says which Debian suite's kernel boots (bookworm's 6.1 by default, trixie's 6.12 for ublk) and which modules,
 * beyond the ones every test needs, go into the initramfs.
 *
 * <p>One boot runs one guest script built from steps; the guest prints {@code VM-STEP name PASS|FAIL} per step
 * (tests/vm/guest-lib.sh). A boot's result fails the test, with the guest's whole console, on any failed or
 * missing step.
 */
final class VmGuest {
    static final String HOST = "10.0.2.2"; // the host's 127.0.0.1 as user-mode networking shows it to the guest
    private static final Pattern STEP = Pattern.compile("^VM-STEP (\\S+) (PASS|FAIL.*)$", Pattern.MULTILINE);
    private static final String[] TOOLS = {"qemu-system-x86_64", "cpio", "gzip", "apt-get", "dpkg-deb", "debugfs"};

    /** A kernel to boot: the Debian suite it comes from ("host": the host's own) and the extra modules to load. */
    record Kernel(String suite, List<String> modules) {
        /** Debian 12's kernel (6.1): the kernel's NBD client. */
        static final Kernel BOOKWORM = new Kernel("host", List.of());
        /** Debian 13's kernel (6.12): ublk (ublk_drv) and io_uring, and the loop driver to compare with. */
        static final Kernel TRIXIE = new Kernel("trixie", List.of("ublk_drv", "loop"));
    }

    private static final Map<String, Path> KERNEL_ROOTS = new java.util.HashMap<>();

    final Path repo;
    final Path root;
    final Path kernel;
    final Path initrd;

    private VmGuest(Path repo, Path root, Path kernel, Path initrd) {
        this.repo = repo;
        this.root = root;
        this.kernel = kernel;
        this.initrd = initrd;
    }

    /** Fetches (once per cache) and builds (once per work directory) what a boot of Debian 12's kernel needs. */
    static VmGuest prepare(Path work) throws IOException, InterruptedException {
        return prepare(work, Kernel.BOOKWORM);
    }

    /** Fetches (once per cache) and builds (once per work directory) what a boot of {@code kernel} needs. */
    static VmGuest prepare(Path work, Kernel kernel) throws IOException, InterruptedException {
        for (String tool : TOOLS) {
            if (run(Duration.ofSeconds(10), "sh", "-c", "command -v " + tool).exitCode != 0) {
                fail(tool + " is missing: the VM tests need apt-get install qemu-system-x86 cpio e2fsprogs");
            }
        }
        Path repo = repo();
        Path kernelRoot;
        synchronized (VmGuest.class) {
            kernelRoot = KERNEL_ROOTS.get(kernel.suite());
            if (kernelRoot == null) {
                String cache = System.getenv().getOrDefault("LOOPDEV_VM_CACHE", "/var/cache/loopdev-vm");
                Run r = run(Duration.ofMinutes(10), repo.resolve("tests/vm/fetch.sh").toString(), cache,
                        kernel.suite());
                if (r.exitCode != 0) {
                    fail("tests/vm/fetch.sh failed:\n" + r.output);
                }
                kernelRoot = Path.of(r.stdout.strip());
                KERNEL_ROOTS.put(kernel.suite(), kernelRoot);
            }
        }
        Path vmlinuz;
        try (var s = Files.list(kernelRoot.resolve("boot"))) {
            vmlinuz = s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-")).findFirst().orElseThrow();
        }
        Path initrd = work.resolve("initrd.gz");
        List<String> cmd = new ArrayList<>(List.of(repo.resolve("tests/vm/build-initramfs.sh").toString(),
                kernelRoot.toString(), initrd.toString()));
        cmd.addAll(kernel.modules());
        Run r = run(Duration.ofMinutes(2), cmd.toArray(String[]::new));
        if (r.exitCode != 0) {
            fail("tests/vm/build-initramfs.sh failed:\n" + r.output);
        }
        return new VmGuest(repo, kernelRoot, vmlinuz, initrd);
    }

    /** The shell prelude of every guest script: the step helper, and {@code nbdc} (Debian's nbd-client) on PATH. */
    private String prelude(Path work) throws IOException {
        Path nbdc = work.resolve("nbdc");
        Files.writeString(nbdc, "#!/bin/sh\nLD_LIBRARY_PATH=" + root.resolve("lib/x86_64-linux-gnu") + " exec "
                + root.resolve("sbin/nbd-client") + " \"$@\"\n");
        nbdc.toFile().setExecutable(true);
        // The guest has its own /tmp over the host's, so a checkout under /tmp is not visible there: copy in.
        Path lib = Files.copy(repo.resolve("tests/vm/guest-lib.sh"), work.resolve("guest-lib.sh"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return ". " + lib + "\nexport PATH=\"$LOOPDEV_WORK:$PATH\"\n"
                + "export VM_BUSYBOX=" + root.resolve("bin/busybox") + "\n";
    }

    /** Boots once, running {@code script} (after the prelude) in {@code work}; returns when the guest is off. */
    Result boot(Path work, String script, int cpus, Duration timeout) throws IOException, InterruptedException {
        return boot(work, script, cpus, 1024, timeout);
    }

    /** As {@link #boot(Path, String, int, Duration)}, with {@code memoryMb} of guest memory. */
    Result boot(Path work, String script, int cpus, int memoryMb, Duration timeout)
            throws IOException, InterruptedException {
        Files.writeString(work.resolve("guest.sh"), prelude(work) + script, StandardCharsets.UTF_8);
        long t0 = System.nanoTime();
        Run r = run(timeout, repo.resolve("tests/vm/boot.sh").toString(), kernel.toString(), initrd.toString(),
                work.toString(), Integer.toString(memoryMb), Integer.toString(cpus));
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
        Files.writeString(work.resolve("console.txt"), r.output, StandardCharsets.UTF_8);
        Result res = new Result(r.output, r.exitCode, r.timedOut, seconds);
        System.out.println("VM boot took " + seconds + " s; the guest saw:");
        res.steps.forEach((k, v) -> System.out.println("  " + k + ": " + v));
        return res;
    }

    /** What one boot printed. */
    static final class Result {
        final String console;
        final Map<String, String> steps = new LinkedHashMap<>();
        final int exitCode;
        final boolean timedOut;
        final long seconds;

        Result(String console, int exitCode, boolean timedOut, long seconds) {
            this.console = console;
            this.exitCode = exitCode;
            this.timedOut = timedOut;
            this.seconds = seconds;
            Matcher m = STEP.matcher(console);
            while (m.find()) {
                steps.put(m.group(1), m.group(2));
            }
        }

        /** Fails, showing the console, unless each of {@code expected} ran and passed, and the guest powered off. */
        void assertPassed(List<String> expected) {
            List<String> bad = new ArrayList<>();
            for (String s : expected) {
                String v = steps.get(s);
                if (!"PASS".equals(v)) {
                    bad.add(s + ": " + (v == null ? "did not run" : v));
                }
            }
            steps.forEach((k, v) -> {
                if (!v.equals("PASS") && !expected.contains(k)) {
                    bad.add(k + ": " + v);
                }
            });
            if (timedOut) {
                bad.add("the VM did not power off in time");
            } else if (!console.contains("guest.sh exited")) {
                bad.add("the guest script did not finish (exit code of qemu " + exitCode + ")");
            }
            if (!bad.isEmpty()) {
                fail("VM steps failed: " + bad + "\n---- guest console ----\n" + console + "---- end of console ----");
            }
        }
    }

    /**
     * The command that runs loopdev in the guest: the host's java on a copy of the jar in {@code work} (the guest
     * sees the host's root read-only but its own /tmp, so the jar goes in through the work directory), with a
     * class-data archive made for that copy on the host (packaging/cds-archive.sh, as the build makes one for the
     * jar). Under emulation every class the JVM parses and verifies costs many times what it costs here, and the
     * guest scripts start loopdev a dozen times. A JVM that cannot map the archive starts without it.
     */
    static String loopdevCommand(Path work) throws IOException, InterruptedException {
        Path jar = Files.copy(dev.loopdev.e2e.harness.LoopdevServer.jar(), work.resolve("loopdev.jar"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path jsa = work.resolve("loopdev.jsa");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Run r = run(Duration.ofMinutes(2), repo().resolve("packaging/cds-archive.sh").toString(), java,
                jar.toString(), jsa.toString());
        if (r.exitCode != 0) {
            fail("packaging/cds-archive.sh failed for the guest's jar:\n" + r.output);
        }
        return java + " -XX:SharedArchiveFile=" + jsa + " -Xlog:cds=off -Xlog:cds+dynamic=off"
                + " -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -jar " + jar;
    }

    static Path repo() {
        Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (int i = 0; i < 4 && p != null; i++, p = p.getParent()) {
            if (Files.exists(p.resolve("tests/vm/boot.sh"))) {
                return p;
            }
        }
        throw new IllegalStateException("cannot find the repository (tests/vm/boot.sh) above " + System.getProperty("user.dir"));
    }

    /** A finished command: exit code, stdout, and stdout+stderr interleaved as the console shows them. */
    static final class Run {
        final int exitCode;
        final String stdout;
        final String output;
        final boolean timedOut;

        Run(int exitCode, String stdout, String output, boolean timedOut) {
            this.exitCode = exitCode;
            this.stdout = stdout;
            this.output = output;
            this.timedOut = timedOut;
        }
    }

    /** Runs a command to completion or {@code timeout} (then kills it), capturing its output through files. */
    static Run run(Duration timeout, String... cmd) throws IOException, InterruptedException {
        Path out = Files.createTempFile("loopdev-vm", ".out");
        Path err = Files.createTempFile("loopdev-vm", ".err");
        try {
            Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
            boolean done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!done) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            String o = Files.readString(out, StandardCharsets.ISO_8859_1);
            String e = Files.readString(err, StandardCharsets.ISO_8859_1);
            return new Run(done ? p.exitValue() : -1, o, o + e, !done);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}

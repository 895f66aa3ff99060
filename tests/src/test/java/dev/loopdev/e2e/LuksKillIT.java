package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Real SIGKILLs of {@code loopdev luks add-key}, {@code change-key}, {@code kill-slot} and {@code format} processes,
 * LUKS1 and LUKS2, at seeded random moments; after each, cryptsetup must open the image with the old passphrase or
 * the new one ({@code format}: the old, the new, or no LUKS header at all). The in-process {@code CrashSafetyTest}
 * stops each update before every one of its writes; this is the same promise kept by the real process, killed by
 * the kernel wherever it happens to be.
 *
 * <p>Half the kills come after a delay drawn over the whole run as two unkilled runs timed it (JVM start, the
 * unlock, the KDF of the new keyslot, the writes, the exit); the other half after a delay drawn over the writes,
 * counted from the moment the image's mtime shows the first one (the unkilled runs timed the writes the same way).
 * Each kill is classified by what it left: the image unchanged (before any write), changed but not yet in its final
 * state (mid-update: the passphrases or the active keyslots are not yet what the finished operation leaves),
 * LUKS2's primary copy new and the secondary not yet (between the copies), or the final state (after the header
 * update; what may follow it, such as wiping the old material of a changed LUKS2 keyslot, leaves nothing cryptsetup
 * reads). A run that ended before its kill does not count.
 *
 * <p>The images are cryptsetup's own (luksFormat, luksAddKey). The JVM runs with C1 only and the serial collector,
 * as a short command-line run is best served, so that a kill costs about a second.
 */
@Timeout(900)
class LuksKillIT {
    /** Real kills (the process still running when SIGKILL was sent) per operation and LUKS version. */
    private static final int KILLS = 10;
    private static final long IMAGE_BYTES = 18L << 20;
    /** cryptsetup's cheap keyslots for the images the operations start from. */
    private static final List<String> CHEAP_LUKS1 = List.of("--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000");
    private static final List<String> CHEAP_LUKS2 = List.of("--pbkdf", "argon2id", "--pbkdf-force-iterations", "4",
            "--pbkdf-memory", "1024", "--pbkdf-parallel", "1");
    /** The new keyslots' KDF: tens of milliseconds, so that the KDF is a phase a kill can land in. */
    private static final List<String> NEW_LUKS1 = List.of("--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "100000");
    private static final List<String> NEW_LUKS2 = List.of("--pbkdf", "argon2id", "--pbkdf-force-iterations", "4",
            "--pbkdf-memory", "32768", "--pbkdf-parallel", "1");

    @TempDir
    Path dir;
    Path p0;
    Path p1;
    Path p2;

    enum Op { ADD_KEY, CHANGE_KEY, KILL_SLOT, FORMAT }

    enum Phase {
        BEFORE_ANY_WRITE("before any write"), MID_UPDATE("mid-update"),
        BETWEEN_COPIES("between the two LUKS2 header copies"), DONE("after the header update");

        final String words;

        Phase(String words) {
            this.words = words;
        }
    }

    static Stream<Arguments> cases() {
        return Stream.of(Op.values()).flatMap(op -> Stream.of(Arguments.of(op, 1), Arguments.of(op, 2)));
    }

    @BeforeAll
    static void tools() {
        Tools.require("cryptsetup");
    }

    @BeforeEach
    void passphrases() throws IOException {
        p0 = Files.writeString(dir.resolve("p0"), "the passphrase before the format");
        p1 = Files.writeString(dir.resolve("p1"), "the old passphrase");
        p2 = Files.writeString(dir.resolve("p2"), "the new passphrase");
    }

    @ParameterizedTest(name = "{0} LUKS{1}")
    @MethodSource("cases")
    void aKillLeavesTheOldOrTheNewPassphrase(Op op, int version) throws Exception {
        Path pristine = pristine(op, version);
        State before = State.of(op, pristine, this);
        assertEquals(op == Op.FORMAT ? 3 - version : version, before.version);
        assertTrue(op == Op.FORMAT ? before.opens0 : before.opens1, "the image the runs start from opens");
        Path image = dir.resolve("image");
        List<String> command = command(op, version, image);

        // Two unkilled runs: the operation works; how long a run takes, when its first write comes and how long
        // its writes go on, as the image's mtime shows them.
        long runNanos = Long.MAX_VALUE;
        long firstWriteNanos = Long.MAX_VALUE;
        long writesNanos = 0;
        for (int i = 0; i < 2; i++) {
            Run r = run(pristine, image, command, -1, false);
            assertEquals(0, r.exitCode, () -> "the unkilled " + op + " failed:\n" + r.log);
            assertTrue(r.firstWriteNanos > 0, op + " wrote nothing (mtime unchanged)");
            assertEquals(Phase.DONE, phase(op, version, State.of(op, image, this)), "the unkilled run's result");
            runNanos = Math.min(runNanos, r.exitNanos);
            firstWriteNanos = Math.min(firstWriteNanos, r.firstWriteNanos);
            writesNanos = Math.max(writesNanos, r.lastWriteNanos - r.firstWriteNanos);
        }
        Calibration c = new Calibration(runNanos, firstWriteNanos, writesNanos + TimeUnit.MILLISECONDS.toNanos(3));
        long seed = Seeds.seed(20261202L); // the delays repeat with it; where they land depends on the machine
        Seeds.reproducible(seed, op + " LUKS" + version + " killed at random", () -> killAtRandom(op, version,
                pristine, image, command, c, new Random(seed * 31 + op.ordinal() * 10L + version)));
    }

    /** The shorter unkilled run's length, the earlier first write, and the longer time the writes went on. */
    private record Calibration(long runNanos, long firstWriteNanos, long writesNanos) {
    }

    private void killAtRandom(Op op, int version, Path pristine, Path image, List<String> command, Calibration c,
                              Random random) throws Exception {
        byte[] pristineHash = sha256(pristine);
        Map<Phase, Integer> phases = new EnumMap<>(Phase.class);
        int kills = 0;
        int tooLate = 0;
        List<String> at = new ArrayList<>();
        for (int attempt = 0; kills < KILLS; attempt++) {
            if (attempt >= 4 * KILLS) {
                fail(op + " LUKS" + version + ": only " + kills + " of " + attempt + " runs were still running "
                        + "when killed");
            }
            boolean afterFirstWrite = attempt % 2 == 1;
            long delay = (long) (random.nextDouble() * (afterFirstWrite ? c.writesNanos : c.runNanos));
            Run r = run(pristine, image, command, delay, afterFirstWrite);
            if (!r.killed) {
                tooLate++;
                continue;
            }
            kills++;
            String when = "killed " + (afterFirstWrite ? "at the first write + " + micros(delay) + " us" : "at "
                    + TimeUnit.NANOSECONDS.toMillis(delay) + " ms");
            Phase p;
            if (Arrays.equals(pristineHash, sha256(image))) {
                p = Phase.BEFORE_ANY_WRITE; // the same bytes cryptsetup opened above
            } else {
                State s = State.of(op, image, this);
                assertInvariant(op, s, op + " LUKS" + version + " " + when);
                p = phase(op, version, s);
            }
            phases.merge(p, 1, Integer::sum);
            at.add(when + ": " + p.words);
        }
        StringBuilder report = new StringBuilder(String.format("%s LUKS%d: %d kills (an unkilled run took %d ms or "
                + "more, its first write at %d ms or later, its writes over %d ms):", op, version, kills,
                TimeUnit.NANOSECONDS.toMillis(c.runNanos), TimeUnit.NANOSECONDS.toMillis(c.firstWriteNanos),
                TimeUnit.NANOSECONDS.toMillis(c.writesNanos)));
        for (Phase p : Phase.values()) {
            if (p != Phase.BETWEEN_COPIES || version == 2) {
                report.append(' ').append(phases.getOrDefault(p, 0)).append(' ').append(p.words).append(',');
            }
        }
        report.append(' ').append(tooLate).append(" runs ended before their kill");
        System.out.println(report);
        at.forEach(line -> System.out.println("  " + line));
        assertTrue(kills - phases.getOrDefault(Phase.BEFORE_ANY_WRITE, 0) > 0,
                "no kill landed after the first write: " + report);
    }

    private static long micros(long nanos) {
        return TimeUnit.NANOSECONDS.toMicros(nanos);
    }

    /**
     * What cryptsetup makes of an image: which passphrases open it (the one from before a format only for format),
     * its version and active keyslots.
     */
    private record State(boolean opens0, boolean opens1, boolean opens2, int version, Set<Integer> keyslots,
                         boolean copiesAgree, String dump) {
        static State of(Op op, Path image, LuksKillIT t) throws IOException {
            Tools.Result d = Tools.run(Duration.ofSeconds(60), Map.of(), List.of("cryptsetup", "luksDump",
                    image.toString()));
            if (d.exitCode() != 0) {
                return new State(false, false, false, 0, Set.of(), false, d.describe());
            }
            Matcher v = Pattern.compile("^Version:\\s+(\\d)$", Pattern.MULTILINE).matcher(d.stdout());
            assertTrue(v.find(), d.describe());
            Set<Integer> slots = new TreeSet<>();
            Matcher m = Pattern.compile("^(?:Key Slot (\\d+): ENABLED|  (\\d+): luks2)$", Pattern.MULTILINE)
                    .matcher(d.stdout());
            while (m.find()) {
                slots.add(Integer.parseInt(m.group(1) != null ? m.group(1) : m.group(2)));
            }
            int version = Integer.parseInt(v.group(1));
            return new State(op == Op.FORMAT && opens(image, t.p0), opens(image, t.p1), opens(image, t.p2), version,
                    slots, version == 2 && luks2CopiesAgree(image), d.stdout());
        }
    }

    /** What must hold whenever the process died: cryptsetup opens the image with one of the passphrases. */
    private static void assertInvariant(Op op, State s, String when) {
        String broken = switch (op) {
            case ADD_KEY, KILL_SLOT -> s.opens1 ? null : "the old passphrase must open";
            case CHANGE_KEY -> s.opens1 || s.opens2 ? null : "the old or the new passphrase must open";
            case FORMAT -> s.opens0 || s.opens1 || s.version == 0 ? null
                    : "the old or the new passphrase must open, or there must be no LUKS header";
        };
        if (broken != null) {
            fail(broken + "; " + when + "\n" + s.dump);
        }
    }

    /** Where the run stopped, judged by what it left in an image that is no longer the pristine one. */
    private static Phase phase(Op op, int version, State s) {
        boolean done = switch (op) {
            case ADD_KEY -> s.opens2 && s.keyslots.equals(Set.of(0, 1));
            case CHANGE_KEY -> s.opens2 && !s.opens1 && s.keyslots.equals(Set.of(version == 1 ? 1 : 0));
            case KILL_SLOT -> !s.opens2 && s.keyslots.equals(Set.of(0));
            case FORMAT -> s.opens1 && s.version == version && s.keyslots.equals(Set.of(0));
        };
        if (!done) {
            return Phase.MID_UPDATE;
        }
        return version == 2 && !s.copiesAgree ? Phase.BETWEEN_COPIES : Phase.DONE;
    }

    /** Whether LUKS2's primary and secondary binary headers are both there with the same seqid. */
    private static boolean luks2CopiesAgree(Path image) throws IOException {
        try (FileChannel ch = FileChannel.open(image)) {
            ByteBuffer primary = ByteBuffer.allocate(24);
            ch.read(primary, 0);
            if (!magic(primary, "LUKS")) {
                return false;
            }
            ByteBuffer secondary = ByteBuffer.allocate(24);
            ch.read(secondary, primary.getLong(8));
            return magic(secondary, "SKUL") && primary.getLong(16) == secondary.getLong(16);
        }
    }

    private static boolean magic(ByteBuffer b, String four) {
        for (int i = 0; i < 4; i++) {
            if (b.get(i) != four.charAt(i)) {
                return false;
            }
        }
        return (b.get(4) & 0xff) == 0xba && (b.get(5) & 0xff) == 0xbe;
    }

    /** The image each run starts from, made by cryptsetup. */
    private Path pristine(Op op, int version) {
        Path p = Images.sparse(dir, "pristine", IMAGE_BYTES);
        int formatted = op == Op.FORMAT ? 3 - version : version;
        List<String> format = new ArrayList<>(List.of("luksFormat", "--type", "luks" + formatted));
        format.addAll(formatted == 1 ? CHEAP_LUKS1 : CHEAP_LUKS2);
        format.addAll(List.of("--key-file", (op == Op.FORMAT ? p0 : p1).toString(), p.toString()));
        cryptsetup(format);
        if (op == Op.KILL_SLOT) {
            List<String> add = new ArrayList<>(List.of("luksAddKey", "--key-file", p1.toString()));
            add.addAll(version == 1 ? CHEAP_LUKS1 : CHEAP_LUKS2);
            add.addAll(List.of(p.toString(), p2.toString()));
            cryptsetup(add);
        }
        return p;
    }

    private List<String> command(Op op, int version, Path image) {
        List<String> newKdf = version == 1 ? NEW_LUKS1 : NEW_LUKS2;
        List<String> args = new ArrayList<>(List.of("luks"));
        switch (op) {
            case ADD_KEY -> args.addAll(List.of("add-key", image.toString(), p2.toString(), "--key-file",
                    p1.toString()));
            case CHANGE_KEY -> args.addAll(List.of("change-key", image.toString(), p2.toString(), "--key-file",
                    p1.toString()));
            case KILL_SLOT -> args.addAll(List.of("kill-slot", image.toString(), "1"));
            case FORMAT -> args.addAll(List.of("format", image.toString(), "--type", "luks" + version, "--batch",
                    "--key-file", p1.toString()));
        }
        if (op != Op.KILL_SLOT) {
            args.addAll(newKdf);
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", LoopdevServer.jar().toString()));
        cmd.addAll(args);
        return cmd;
    }

    /** One run. */
    private record Run(boolean killed, int exitCode, long firstWriteNanos, long lastWriteNanos, long exitNanos,
                       String log) {
    }

    /**
     * Copies {@code pristine} to {@code image} and runs {@code command} on it; SIGKILLs it {@code delayNanos} after
     * it started (or after its first write shows in the image's mtime), unless it ended first. A negative delay lets
     * it run to the end.
     */
    private Run run(Path pristine, Path image, List<String> command, long delayNanos, boolean afterFirstWrite)
            throws IOException, InterruptedException {
        Files.copy(pristine, image, StandardCopyOption.REPLACE_EXISTING);
        FileTime copied = Files.getLastModifiedTime(image);
        Path log = dir.resolve("run.log");
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.environment().put("PATH", Tools.PATH);
        long t0 = System.nanoTime();
        Process p = pb.start();
        long deadline = t0 + TimeUnit.SECONDS.toNanos(60);
        FileTime mtime = copied;
        long firstWrite = 0;
        long lastWrite = 0;
        long killAt = delayNanos < 0 || afterFirstWrite ? Long.MAX_VALUE : t0 + delayNanos;
        boolean killed = false;
        while (p.isAlive()) {
            long now = System.nanoTime();
            FileTime m = Files.getLastModifiedTime(image);
            if (!m.equals(mtime)) {
                mtime = m;
                lastWrite = now;
                if (firstWrite == 0) {
                    firstWrite = now;
                    if (afterFirstWrite && delayNanos >= 0) {
                        killAt = now + delayNanos;
                    }
                }
            }
            if (now >= killAt) {
                killed = kill(p);
                break;
            }
            if (now > deadline) {
                kill(p);
                fail("loopdev did not finish in 60 s: " + command + "\n" + Files.readString(log));
            }
            LockSupport.parkNanos(50_000);
        }
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "loopdev did not end");
        long exit = System.nanoTime() - t0;
        if (!Files.getLastModifiedTime(image).equals(mtime)) { // written in its last moments, between two polls
            lastWrite = t0 + exit;
            firstWrite = firstWrite == 0 ? lastWrite : firstWrite;
        }
        return new Run(killed, p.exitValue(), firstWrite == 0 ? 0 : firstWrite - t0,
                lastWrite == 0 ? 0 : lastWrite - t0, exit, Files.readString(log));
    }

    /** SIGKILL; true if the process was still running to receive it. */
    private static boolean kill(Process p) throws InterruptedException {
        if (!p.isAlive()) {
            return false;
        }
        p.destroyForcibly(); // SIGKILL on Linux
        p.waitFor(30, TimeUnit.SECONDS);
        return p.exitValue() == 128 + 9; // not 0: it had not ended between isAlive() and the signal
    }

    private static boolean opens(Path image, Path pass) {
        return Tools.run(Duration.ofSeconds(60), Map.of(), List.of("cryptsetup", "open", "--test-passphrase",
                "--key-file", pass.toString(), image.toString())).exitCode() == 0;
    }

    private static void cryptsetup(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of("cryptsetup", "--batch-mode"));
        cmd.addAll(args);
        Tools.run(Duration.ofSeconds(60), Map.of(), cmd).ok();
    }

    private static byte[] sha256(Path p) throws IOException {
        try (var in = Files.newInputStream(p)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return md.digest();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}

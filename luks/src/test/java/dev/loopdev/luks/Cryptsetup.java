package dev.loopdev.luks;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real cryptsetup (2.6, Debian 12's cryptsetup-bin) on plain files: it formats, dumps, adds and kills keyslots
 * and tests passphrases without device-mapper. Required, never skipped: a missing binary fails the test.
 * Passphrases go through standard input ({@code --key-file -}), never the command line.
 */
final class Cryptsetup {
    /** Cheap KDF options for tests, so that a format or unlock takes milliseconds. */
    static final List<String> FAST_PBKDF2 = List.of("--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000");
    static final List<String> FAST_ARGON2ID = List.of("--pbkdf", "argon2id", "--pbkdf-force-iterations", "4",
            "--pbkdf-memory", "32", "--pbkdf-parallel", "1");
    static final List<String> FAST_ARGON2I = List.of("--pbkdf", "argon2i", "--pbkdf-force-iterations", "4",
            "--pbkdf-memory", "64", "--pbkdf-parallel", "2");

    record Result(int status, String out) {
    }

    private Cryptsetup() {
    }

    static Result run(byte[] stdin, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add("cryptsetup");
        cmd.add("--batch-mode");
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (var in = p.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin);
            }
        } catch (IOException e) {
            // cryptsetup exited without reading its input (not a LUKS device, say): its status says why
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("cryptsetup " + args + " hung");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return new Result(p.exitValue(), out);
    }

    /** Runs and asserts success. */
    static String ok(byte[] stdin, List<String> args) throws IOException {
        Result r = run(stdin, args);
        assertEquals(0, r.status(), "cryptsetup " + args + ":\n" + r.out());
        return r.out();
    }

    static String ok(byte[] stdin, String... args) throws IOException {
        return ok(stdin, List.of(args));
    }

    /** Whether cryptsetup accepts {@code pass} for the image (any keyslot, or the one given). */
    static boolean opens(Path image, Path header, byte[] pass, int slot) throws IOException {
        List<String> args = new ArrayList<>(List.of("open", "--test-passphrase", "--key-file", "-"));
        if (header != null) {
            args.addAll(List.of("--header", header.toString()));
        }
        if (slot >= 0) {
            args.addAll(List.of("--key-slot", Integer.toString(slot)));
        }
        args.add(image.toString());
        return run(pass, args).status() == 0;
    }

    /** The volume key as cryptsetup unlocks it ({@code luksDump --dump-volume-key --volume-key-file}). */
    static byte[] volumeKey(Path image, Path header, byte[] pass, Path dir) throws IOException {
        Path vk = dir.resolve("vk-" + System.nanoTime());
        List<String> args = new ArrayList<>(List.of("luksDump", "--dump-volume-key", "--volume-key-file",
                vk.toString(), "--key-file", "-"));
        if (header != null) {
            args.addAll(List.of("--header", header.toString()));
        }
        args.add(image.toString());
        ok(pass, args);
        byte[] key = Files.readAllBytes(vk);
        Files.delete(vk);
        return key;
    }

    /** A sparse file of {@code bytes}. */
    static Path image(Path dir, String name, long bytes) throws IOException {
        Path p = dir.resolve(name);
        try (var f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p;
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}

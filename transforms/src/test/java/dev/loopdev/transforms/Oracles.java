package dev.loopdev.transforms;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Outside implementations the tests compare with: {@code openssl enc}, and oracle.py on Debian's python3 with
 * python3-cryptography and libgcrypt. They are required, never skipped: a missing tool fails the test.
 */
public final class Oracles {
    static final String PYTHON = "/usr/bin/python3";
    static final HexFormat HEX = HexFormat.of();

    private final Path dir;
    private final Path script;

    public Oracles(Path dir) throws IOException {
        this.dir = dir;
        this.script = dir.resolve("oracle.py");
        try (InputStream in = Oracles.class.getResourceAsStream("oracle.py")) {
            Files.copy(in, script);
        }
    }

    /** The oracle's encryption or decryption of whole sectors, the first one having IV sector {@code ivSector}. */
    byte[] crypt(boolean encrypt, String spec, byte[] key, long ivSector, byte[] data) throws IOException {
        return crypt(encrypt, spec, key, ivSector, data, 512);
    }

    /** As above, over units of {@code sectorSize} bytes (dm-crypt's sector_size), IVs counted in 512-byte sectors. */
    public byte[] crypt(boolean encrypt, String spec, byte[] key, long ivSector, byte[] data, int sectorSize)
            throws IOException {
        Path in = Files.write(dir.resolve("oracle-in"), data);
        Path out = dir.resolve("oracle-out");
        run(List.of(PYTHON, script.toString(), encrypt ? "encrypt" : "decrypt", spec, HEX.formatHex(key),
                Long.toUnsignedString(ivSector), in.toString(), out.toString(), String.valueOf(sectorSize)), null);
        return Files.readAllBytes(out);
    }

    /** cryptsetup's plain-mode passphrase hashing, as oracle.py computes it with hashlib. */
    byte[] plainHash(String hash, int keyBytes, byte[] passphrase) throws IOException {
        String hex = run(List.of(PYTHON, script.toString(), "plainhash", hash, String.valueOf(keyBytes),
                HEX.formatHex(passphrase)), null).trim();
        return HEX.parseHex(hex);
    }

    /** {@code openssl enc -nopad} over one buffer; key and IV on its command line are test keys only. */
    byte[] openssl(boolean encrypt, String cipher, byte[] key, byte[] iv, byte[] data) throws IOException {
        Path in = Files.write(dir.resolve("openssl-in"), data);
        Path out = dir.resolve("openssl-out");
        List<String> cmd = new ArrayList<>(List.of("openssl", "enc", "-" + cipher, "-nopad", "-K",
                HEX.formatHex(key), "-in", in.toString(), "-out", out.toString()));
        if (iv != null) {
            cmd.add("-iv");
            cmd.add(HEX.formatHex(iv));
        }
        if (!encrypt) {
            cmd.add("-d");
        }
        run(cmd, null);
        return Files.readAllBytes(out);
    }

    static String run(List<String> cmd, Path cwd) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (cwd != null) {
            pb.directory(cwd.toFile());
        }
        Process p = pb.start();
        try {
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(cmd.get(0) + " timed out");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), () -> String.join(" ", cmd.subList(0, 2)) + " failed: " + text);
            return text;
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }
}

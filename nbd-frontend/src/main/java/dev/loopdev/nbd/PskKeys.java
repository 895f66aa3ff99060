package dev.loopdev.nbd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A psktool key file, as nbdkit's {@code --tls-psk} and qemu's {@code tls-creds-psk} read it: one
 * {@code identity:hexkey} per line. The keys never appear in a message or a log; only identities do.
 */
public final class PskKeys {
    private final Path file;
    private final Map<String, byte[]> keys;

    private PskKeys(Path file, Map<String, byte[]> keys) {
        this.file = file;
        this.keys = keys;
    }

    public static PskKeys load(Path file) throws IOException {
        Map<String, byte[]> keys = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) {
                continue;
            }
            int colon = line.indexOf(':');
            byte[] key = colon > 0 ? hex(line.substring(colon + 1)) : null;
            if (key == null || key.length == 0) {
                throw new IOException(file + ": line " + (i + 1) + " is not identity:hexkey");
            }
            keys.putIfAbsent(line.substring(0, colon), key);
        }
        if (keys.isEmpty()) {
            throw new IOException(file + ": no keys");
        }
        return new PskKeys(file, keys);
    }

    /** The identities in file order; the first is the one a printed URI names. */
    public List<String> identities() {
        return List.copyOf(keys.keySet());
    }

    Path file() {
        return file;
    }

    /** A copy of the key for {@code identity}, or null. */
    byte[] key(String identity) {
        byte[] k = keys.get(identity);
        return k == null ? null : Arrays.copyOf(k, k.length);
    }

    private static byte[] hex(String s) {
        if (s.length() % 2 != 0) {
            return null;
        }
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            int hi = Character.digit(s.charAt(2 * i), 16);
            int lo = Character.digit(s.charAt(2 * i + 1), 16);
            if (hi < 0 || lo < 0) {
                return null;
            }
            b[i] = (byte) (hi << 4 | lo);
        }
        return b;
    }
}

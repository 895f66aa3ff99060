package dev.loopdev.cli;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.nbd.kernel.KernelNbd;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@code loopdev attach} records about a device it attached, in /run/loopdev/nbdN.json, so that
 * {@code list} can say which file is behind which device with which options (the kernel knows only a pid). A flat
 * JSON object of strings, numbers and booleans; the record is trusted only while /sys/block/nbdN/pid names the
 * same, living, process.
 */
record AttachState(int index, long pid, String image, long sizeBytes, int blockSize, int connections,
        boolean readOnly, long offsetBytes, long sizeLimitBytes, String writePath, String transform,
        boolean netlink) {

    static final Path DIR = Path.of("/run/loopdev");
    private static final Pattern FIELD =
            Pattern.compile("\"(\\w+)\"\\s*:\\s*(\"(?:[^\"\\\\]|\\\\.)*\"|true|false|-?\\d+)");

    /** The record of {@code device} attached as {@code c} by this process. */
    static AttachState of(KernelNbd.Connection c, LoopDevice device, int connections) {
        LoopConfig cfg = device.config();
        return new AttachState(c.index(), ProcessHandle.current().pid(), device.file().toAbsolutePath().toString(),
                device.size(), device.blockSize(), connections, device.isReadOnly(), cfg.offsetBytes(),
                cfg.sizeLimitBytes(), device.writePath().name().toLowerCase(Locale.ROOT), cfg.transform().name(),
                c.netlink());
    }

    static Path file(int index) {
        return DIR.resolve("nbd" + index + ".json");
    }

    String device() {
        return KernelNbd.devicePath(index);
    }

    /** Whether the kernel still has this device connected by the process that wrote the record. */
    boolean isLive() {
        return KernelNbd.pidOf(index).orElse(-1) == pid && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    void write() throws IOException {
        writeRecord(file(index), toJson());
    }

    void delete() {
        deleteRecord(file(index));
    }

    /**
     * A record (this kind or ublk's) written to a temporary file and renamed into place, so a reader never sees
     * half of one.
     */
    static void writeRecord(Path file, String json) throws IOException {
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, json + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    static void deleteRecord(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // a stale record is ignored by readers anyway (its pid is gone)
        }
    }

    /** The record for {@code index}, or null when there is none or it cannot be read. */
    static AttachState read(int index) {
        try {
            return parse(Files.readString(file(index), StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    String toJson() {
        return "{\"device\": " + quote(device()) + ", \"index\": " + index + ", \"pid\": " + pid
                + ", \"image\": " + quote(image) + ", \"sizeBytes\": " + sizeBytes + ", \"blockSize\": " + blockSize
                + ", \"connections\": " + connections + ", \"readOnly\": " + readOnly
                + ", \"offsetBytes\": " + offsetBytes + ", \"sizeLimitBytes\": " + sizeLimitBytes
                + ", \"writePath\": " + quote(writePath) + ", \"transform\": " + quote(transform)
                + ", \"netlink\": " + netlink + "}";
    }

    /** The fields of a flat JSON object as written here, values as they appear (strings still quoted). */
    static Map<String, String> fields(String json) {
        Map<String, String> f = new LinkedHashMap<>();
        Matcher m = FIELD.matcher(json);
        while (m.find()) {
            f.put(m.group(1), m.group(2));
        }
        return f;
    }

    static AttachState parse(String json) {
        Map<String, String> f = fields(json);
        return new AttachState(Integer.parseInt(f.get("index")), Long.parseLong(f.get("pid")), unquote(f.get("image")),
                Long.parseLong(f.get("sizeBytes")), Integer.parseInt(f.get("blockSize")),
                Integer.parseInt(f.get("connections")), Boolean.parseBoolean(f.get("readOnly")),
                Long.parseLong(f.get("offsetBytes")), Long.parseLong(f.get("sizeLimitBytes")),
                unquote(f.get("writePath")), unquote(f.get("transform")), Boolean.parseBoolean(f.get("netlink")));
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    static String unquote(String q) {
        String s = q.substring(1, q.length() - 1);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                b.append(c);
                continue;
            }
            char e = s.charAt(++i);
            switch (e) {
                case 'n' -> b.append('\n');
                case 'u' -> {
                    b.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                    i += 4;
                }
                default -> b.append(e);
            }
        }
        return b.toString();
    }
}

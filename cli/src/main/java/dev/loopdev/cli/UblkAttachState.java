package dev.loopdev.cli;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.ublk.UblkDevices;
import dev.loopdev.ublk.UblkServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code loopdev attach --ublk} records about a device, in /run/loopdev/ublkbN.json, beside the NBD
 * records: the file and the options behind /dev/ublkbN (the kernel knows only the server's pid). Trusted only while
 * the driver names the same, living, process as the device's server.
 */
record UblkAttachState(int id, long pid, String image, long sizeBytes, int blockSize, int queues, int depth,
        boolean readOnly, long offsetBytes, long sizeLimitBytes, String writePath, String transform) {

    static UblkAttachState of(UblkServer server, LoopDevice device, UblkServer.Options options) {
        LoopConfig cfg = device.config();
        return new UblkAttachState(server.id(), ProcessHandle.current().pid(), device.file().toAbsolutePath().toString(),
                device.size(), device.blockSize(), options.queues(), options.depth(), device.isReadOnly(),
                cfg.offsetBytes(), cfg.sizeLimitBytes(), device.writePath().name().toLowerCase(Locale.ROOT),
                cfg.transform().name());
    }

    static Path file(int id) {
        return AttachState.DIR.resolve("ublkb" + id + ".json");
    }

    String device() {
        return UblkServer.blockDevice(id);
    }

    /** Whether the driver still has this device served by the process that wrote the record. */
    boolean isLiveFor(UblkDevices.Info info) {
        return info.serverPid() == pid && info.serverAlive();
    }

    void write() throws IOException {
        AttachState.writeRecord(file(id), toJson());
    }

    void delete() {
        AttachState.deleteRecord(file(id));
    }

    static UblkAttachState read(int id) {
        try {
            Map<String, String> f = AttachState.fields(Files.readString(file(id), StandardCharsets.UTF_8));
            return new UblkAttachState(Integer.parseInt(f.get("index")), Long.parseLong(f.get("pid")),
                    AttachState.unquote(f.get("image")), Long.parseLong(f.get("sizeBytes")), Integer.parseInt(f.get("blockSize")),
                    Integer.parseInt(f.get("queues")), Integer.parseInt(f.get("depth")),
                    Boolean.parseBoolean(f.get("readOnly")), Long.parseLong(f.get("offsetBytes")),
                    Long.parseLong(f.get("sizeLimitBytes")), AttachState.unquote(f.get("writePath")), AttachState.unquote(f.get("transform")));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    String toJson() {
        return "{\"device\": " + AttachState.quote(device()) + ", \"type\": \"ublk\", \"index\": " + id
                + ", \"pid\": " + pid + ", \"image\": " + AttachState.quote(image) + ", \"sizeBytes\": " + sizeBytes
                + ", \"blockSize\": " + blockSize + ", \"queues\": " + queues + ", \"depth\": " + depth
                + ", \"readOnly\": " + readOnly + ", \"offsetBytes\": " + offsetBytes
                + ", \"sizeLimitBytes\": " + sizeLimitBytes + ", \"writePath\": " + AttachState.quote(writePath)
                + ", \"transform\": " + AttachState.quote(transform) + "}";
    }
}

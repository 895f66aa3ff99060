package dev.loopdev.nbd;

import dev.loopdev.BlockDevice;
import java.util.Objects;

/**
 * The one export a server offers: a name and the device behind it, and what we tell clients about it.
 *
 * <p>Every connection shares the one {@link BlockDevice} and a flush makes the whole backing file durable, so
 * {@code CAN_MULTI_CONN} is true: a flush on one connection covers writes completed on any other.
 */
public record Export(String name, BlockDevice device) {

    public Export {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(device, "device");
        if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > Nbd.MAX_STRING_BYTES) {
            throw new IllegalArgumentException("export name longer than " + Nbd.MAX_STRING_BYTES + " bytes");
        }
    }

    /** Whether a client asking for {@code requested} means this export; the empty name is the default export. */
    boolean answersTo(String requested) {
        return requested.isEmpty() || requested.equals(name);
    }

    boolean canTrim() {
        return !device.isReadOnly() && device.canTrim();
    }

    int transmissionFlags() {
        int flags = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_CAN_MULTI_CONN;
        if (device.isReadOnly()) {
            flags |= Nbd.FLAG_READ_ONLY;
        } else {
            flags |= Nbd.FLAG_SEND_WRITE_ZEROES;
        }
        if (canTrim()) {
            flags |= Nbd.FLAG_SEND_TRIM;
        }
        return flags;
    }

    /** The core handles unaligned requests (read-modify-write under a range lock), so any byte is fine. */
    int minimumBlockSize() {
        return 1;
    }

    int preferredBlockSize() {
        return Math.max(4096, device.blockSize());
    }

    int maximumBlockSize() {
        return Nbd.MAX_PAYLOAD_BYTES;
    }
}

package dev.loopdev.nbd;

import dev.loopdev.BlockDevice;
import java.util.Objects;

/**
 * One export a server offers: a name and the device behind it, and what we tell clients about it.
 *
 * <p>Every connection to an export shares its one {@link BlockDevice}, and a flush makes the whole backing file
 * durable (fdatasync), so {@code CAN_MULTI_CONN} is true: a flush on one connection covers writes completed on any
 * other, which is exactly what the spec asks of a server that advertises it.
 */
public record Export(String name, BlockDevice device) {

    public Export {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(device, "device");
        if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > Nbd.MAX_STRING_BYTES) {
            throw new IllegalArgumentException("export name longer than " + Nbd.MAX_STRING_BYTES + " bytes");
        }
    }

    boolean canTrim() {
        return !device.isReadOnly() && device.canTrim();
    }

    /**
     * What the export offers, the one place the transmission flags are decided: the handshake sends them, and the
     * kernel's client is told them when {@code attach} connects it. DF only with structured replies (the spec
     * forbids it otherwise); we always answer a READ with one chunk, so honouring DF costs nothing. FAST_ZERO on
     * every writable export: whether zeroing is fast is decided per request, by the device.
     */
    public int transmissionFlags(boolean structuredReplies) {
        int flags = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH | Nbd.FLAG_SEND_FUA | Nbd.FLAG_CAN_MULTI_CONN
                | Nbd.FLAG_SEND_CACHE;
        if (structuredReplies) {
            flags |= Nbd.FLAG_SEND_DF;
        }
        if (device.isReadOnly()) {
            flags |= Nbd.FLAG_READ_ONLY;
        } else {
            flags |= Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_FAST_ZERO;
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

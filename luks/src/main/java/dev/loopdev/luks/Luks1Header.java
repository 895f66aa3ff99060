package dev.loopdev.luks;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The LUKS1 header: 592 bytes, big-endian, at the start of the image (or of a detached header file), followed by
 * the key material of its eight slots. One copy only, so updates go in an order that never leaves the header
 * pointing at material that is not there (see {@link LuksImage}).
 */
final class Luks1Header {
    static final byte[] MAGIC = {'L', 'U', 'K', 'S', (byte) 0xba, (byte) 0xbe};
    static final int SIZE = 592;
    /** What cryptsetup writes: the struct padded to 1024 bytes, the padding zeros. */
    static final int WRITE_SIZE = 1024;
    static final int SLOTS = 8;
    static final int ENABLED = 0x00AC71F3;
    static final int DISABLED = 0x0000DEAD;
    static final int DIGEST_BYTES = 20;
    static final int SALT_BYTES = 32;
    private static final int SLOT_AT = 208;
    private static final int SLOT_BYTES = 48;

    String cipherName;
    String cipherMode;
    String hashSpec;
    long payloadOffsetSectors;
    int keyBytes;
    byte[] mkDigest = new byte[DIGEST_BYTES];
    byte[] mkDigestSalt = new byte[SALT_BYTES];
    long mkDigestIterations;
    String uuid;
    final Slot[] slots = new Slot[SLOTS];

    /** One key slot's record. */
    static final class Slot {
        int active = DISABLED;
        long iterations;
        byte[] salt = new byte[SALT_BYTES];
        long materialOffsetSectors;
        long stripes = AfSplitter.STRIPES;

        boolean isActive() {
            return active == ENABLED;
        }
    }

    Luks1Header() {
        for (int i = 0; i < SLOTS; i++) {
            slots[i] = new Slot();
        }
    }

    static boolean hasMagic(byte[] b) {
        return b.length >= 8 && Arrays.equals(b, 0, 6, MAGIC, 0, 6) && b[6] == 0 && b[7] == 1;
    }

    /** Parses and checks the header as cryptsetup's {@code _check_and_convert_hdr} and LUKS_check_keyslots do. */
    static Luks1Header parse(byte[] raw, String where) {
        if (raw.length < SIZE || !Arrays.equals(raw, 0, 6, MAGIC, 0, 6)) {
            throw new LuksException(where + " is not a LUKS device");
        }
        ByteBuffer b = ByteBuffer.wrap(raw);
        int version = Short.toUnsignedInt(b.getShort(6));
        if (version != 1) {
            throw new LuksException(where + ": unsupported LUKS version " + version);
        }
        Luks1Header h = new Luks1Header();
        h.cipherName = cString(raw, 8, 32);
        h.cipherMode = cString(raw, 40, 32);
        h.hashSpec = cString(raw, 72, 32);
        h.payloadOffsetSectors = Integer.toUnsignedLong(b.getInt(104));
        h.keyBytes = b.getInt(108);
        System.arraycopy(raw, 112, h.mkDigest, 0, DIGEST_BYTES);
        System.arraycopy(raw, 132, h.mkDigestSalt, 0, SALT_BYTES);
        h.mkDigestIterations = Integer.toUnsignedLong(b.getInt(164));
        h.uuid = cString(raw, 168, 40);
        for (int i = 0; i < SLOTS; i++) {
            int at = SLOT_AT + i * SLOT_BYTES;
            Slot s = h.slots[i];
            s.active = b.getInt(at);
            s.iterations = Integer.toUnsignedLong(b.getInt(at + 4));
            System.arraycopy(raw, at + 8, s.salt, 0, SALT_BYTES);
            s.materialOffsetSectors = Integer.toUnsignedLong(b.getInt(at + 40));
            s.stripes = Integer.toUnsignedLong(b.getInt(at + 44));
        }
        h.check(where);
        return h;
    }

    private void check(String where) {
        try {
            Hashes.check(hashSpec);
        } catch (LuksException e) {
            throw new LuksException(where + ": LUKS1 hash '" + hashSpec + "' is not supported");
        }
        if (keyBytes < 16 || keyBytes > 512) {
            throw new LuksException(where + ": LUKS1 key size " + keyBytes + " bytes is out of range");
        }
        long materialSectors = AfSplitter.materialBytes(keyBytes, AfSplitter.STRIPES) / 512;
        Integer[] order = new Integer[SLOTS];
        for (int i = 0; i < SLOTS; i++) {
            Slot s = slots[i];
            order[i] = i;
            if (s.stripes != AfSplitter.STRIPES) {
                throw new LuksException(where + ": LUKS keyslot " + i + " is invalid (" + s.stripes + " stripes)");
            }
            if (s.materialOffsetSectors * 512 < SIZE) {
                throw new LuksException(where + ": LUKS keyslot " + i + " is invalid (material inside the header)");
            }
            if (payloadOffsetSectors != 0 && payloadOffsetSectors < s.materialOffsetSectors + materialSectors) {
                throw new LuksException(where + ": LUKS keyslot " + i + " is invalid (material beyond the data offset)");
            }
            if (s.active != ENABLED && s.active != DISABLED) {
                throw new LuksException(where + ": LUKS keyslot " + i + " is invalid (state 0x"
                        + Integer.toHexString(s.active) + ")");
            }
        }
        Arrays.sort(order, (x, y) -> Long.compare(slots[x].materialOffsetSectors, slots[y].materialOffsetSectors));
        for (int i = 1; i < SLOTS; i++) {
            if (slots[order[i]].materialOffsetSectors < slots[order[i - 1]].materialOffsetSectors + materialSectors) {
                throw new LuksException(where + ": LUKS keyslot " + order[i - 1] + " is invalid (overlaps keyslot "
                        + order[i] + ")");
            }
        }
    }

    /** The header as cryptsetup writes it: {@link #WRITE_SIZE} bytes, padding zeroed. */
    byte[] toBytes() {
        byte[] raw = new byte[WRITE_SIZE];
        ByteBuffer b = ByteBuffer.wrap(raw);
        System.arraycopy(MAGIC, 0, raw, 0, MAGIC.length);
        b.putShort(6, (short) 1);
        putString(raw, 8, 32, cipherName);
        putString(raw, 40, 32, cipherMode);
        putString(raw, 72, 32, hashSpec);
        b.putInt(104, (int) payloadOffsetSectors);
        b.putInt(108, keyBytes);
        System.arraycopy(mkDigest, 0, raw, 112, DIGEST_BYTES);
        System.arraycopy(mkDigestSalt, 0, raw, 132, SALT_BYTES);
        b.putInt(164, (int) mkDigestIterations);
        putString(raw, 168, 40, uuid);
        for (int i = 0; i < SLOTS; i++) {
            int at = SLOT_AT + i * SLOT_BYTES;
            Slot s = slots[i];
            b.putInt(at, s.active);
            b.putInt(at + 4, (int) s.iterations);
            System.arraycopy(s.salt, 0, raw, at + 8, SALT_BYTES);
            b.putInt(at + 40, (int) s.materialOffsetSectors);
            b.putInt(at + 44, (int) s.stripes);
        }
        return raw;
    }

    String cipherSpec() {
        return cipherName + "-" + cipherMode;
    }

    /** The end of the key material area (bytes): what a header backup holds and a detached header file needs. */
    long areasEndBytes() {
        long materialSectors = AfSplitter.materialBytes(keyBytes, AfSplitter.STRIPES) / 512;
        long end = 0;
        for (Slot s : slots) {
            end = Math.max(end, s.materialOffsetSectors + materialSectors);
        }
        return end * 512;
    }

    static String cString(byte[] raw, int at, int len) {
        int n = 0;
        while (n < len - 1 && raw[at + n] != 0) {
            n++;
        }
        return new String(raw, at, n, StandardCharsets.US_ASCII);
    }

    static void putString(byte[] raw, int at, int len, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        if (b.length > len - 1) {
            throw new LuksException("'" + s + "' is longer than the header's " + (len - 1) + " bytes");
        }
        System.arraycopy(b, 0, raw, at, b.length);
    }
}

package dev.loopdev.luks;

import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * What {@code cryptsetup luksDump} prints, in its layout, and the JSON metadata ({@code --dump-json-metadata}).
 * Salts and digests are public header fields; key material never appears.
 */
public final class LuksDump {
    private LuksDump() {
    }

    /** The text dump. */
    public static String text(LuksImage img) {
        return img.version() == 1 ? luks1(img) : luks2(img);
    }

    /** LUKS2: the JSON metadata as cryptsetup prints it; LUKS1: the header's fields as one JSON object. */
    public static String json(LuksImage img) {
        if (img.version() == 2) {
            return Json.pretty(img.luks2().json);
        }
        Luks1Header h = img.luks1();
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("version", Json.Num.of(1));
        m.put("cipher_name", h.cipherName);
        m.put("cipher_mode", h.cipherMode);
        m.put("hash_spec", h.hashSpec);
        m.put("payload_offset", Json.Num.of(h.payloadOffsetSectors));
        m.put("key_bytes", Json.Num.of(h.keyBytes));
        m.put("mk_digest_iterations", Json.Num.of(h.mkDigestIterations));
        m.put("uuid", h.uuid);
        List<Object> slots = new java.util.ArrayList<>();
        for (int i = 0; i < Luks1Header.SLOTS; i++) {
            Luks1Header.Slot s = h.slots[i];
            Map<String, Object> j = new java.util.LinkedHashMap<>();
            j.put("slot", Json.Num.of(i));
            j.put("active", s.isActive());
            j.put("iterations", Json.Num.of(s.iterations));
            j.put("key_material_offset", Json.Num.of(s.materialOffsetSectors));
            j.put("stripes", Json.Num.of(s.stripes));
            slots.add(j);
        }
        m.put("keyslots", slots);
        return Json.pretty(m);
    }

    private static String luks1(LuksImage img) {
        Luks1Header h = img.luks1();
        StringBuilder b = new StringBuilder();
        b.append("LUKS header information for ").append(img.path()).append("\n\n");
        b.append("Version:       \t1\n");
        b.append("Cipher name:   \t").append(h.cipherName).append('\n');
        b.append("Cipher mode:   \t").append(h.cipherMode).append('\n');
        b.append("Hash spec:     \t").append(h.hashSpec).append('\n');
        b.append("Payload offset:\t").append(h.payloadOffsetSectors).append('\n');
        b.append("MK bits:       \t").append(h.keyBytes * 8).append('\n');
        b.append("MK digest:     \t").append(hex(h.mkDigest, "               \t")).append('\n');
        b.append("MK salt:       \t").append(hex(h.mkDigestSalt, "               \t")).append('\n');
        b.append("MK iterations: \t").append(h.mkDigestIterations).append('\n');
        b.append("UUID:          \t").append(h.uuid).append("\n\n");
        for (int i = 0; i < Luks1Header.SLOTS; i++) {
            Luks1Header.Slot s = h.slots[i];
            b.append("Key Slot ").append(i).append(": ").append(s.isActive() ? "ENABLED" : "DISABLED").append('\n');
            if (s.isActive()) {
                b.append("\tIterations:         \t").append(s.iterations).append('\n');
                b.append("\tSalt:               \t").append(hex(s.salt, "\t                      \t")).append('\n');
                b.append("\tKey material offset:\t").append(s.materialOffsetSectors).append('\n');
                b.append("\tAF stripes:            \t").append(s.stripes).append('\n');
            }
        }
        return b.toString();
    }

    private static String luks2(LuksImage img) {
        Luks2Header h = img.luks2();
        StringBuilder b = new StringBuilder();
        b.append("LUKS header information\n");
        b.append("Version:       \t2\n");
        b.append("Epoch:         \t").append(h.seqid).append('\n');
        b.append("Metadata area: \t").append(h.hdrSize).append(" [bytes]\n");
        b.append("Keyslots area: \t").append(h.keyslotsBytes()).append(" [bytes]\n");
        b.append("UUID:          \t").append(h.uuid).append('\n');
        b.append("Label:         \t").append(h.label.isEmpty() ? "(no label)" : h.label).append('\n');
        b.append("Subsystem:     \t").append(h.subsystem.isEmpty() ? "(no subsystem)" : h.subsystem).append('\n');
        Object flags = Json.object(h.json, "config", "config").get("flags");
        b.append("Flags:       \t").append(flags instanceof List<?> l && !l.isEmpty()
                ? String.join(" ", l.stream().map(String::valueOf).toList()) : "(no flags)").append("\n\n");
        DataSegment seg = h.segment();
        b.append("Data segments:\n");
        b.append("  0: crypt\n");
        b.append("\toffset: ").append(seg.offsetBytes()).append(" [bytes]\n");
        b.append("\tlength: ").append(seg.isDynamic() ? "(whole device)" : seg.sizeBytes() + " [bytes]").append('\n');
        b.append("\tcipher: ").append(seg.cipher()).append('\n');
        b.append("\tsector: ").append(seg.sectorSize()).append(" [bytes]\n\n");
        b.append("Keyslots:\n");
        for (Luks2Header.Keyslot k : h.keyslots().values()) {
            b.append("  ").append(k.id()).append(": luks2\n");
            b.append("\tKey:        ").append(k.keyBytes() * 8).append(" bits\n");
            b.append("\tPriority:   ").append(k.priority() == 0 ? "ignored" : k.priority() == 2 ? "preferred"
                    : "normal").append('\n');
            b.append("\tCipher:     ").append(k.areaCipher()).append('\n');
            b.append("\tCipher key: ").append(k.areaKeyBytes() * 8).append(" bits\n");
            b.append("\tPBKDF:      ").append(k.kdf().type()).append('\n');
            if (k.kdf() instanceof Kdf.Pbkdf2 p) {
                b.append("\tHash:       ").append(p.hash()).append('\n');
                b.append("\tIterations: ").append(p.iterations()).append('\n');
            } else if (k.kdf() instanceof Kdf.Argon2 a) {
                b.append("\tTime cost:  ").append(a.time()).append('\n');
                b.append("\tMemory:     ").append(a.memoryKiB()).append('\n');
                b.append("\tThreads:    ").append(a.parallel()).append('\n');
            }
            b.append("\tSalt:       ").append(hex(k.salt(), "\t            ")).append('\n');
            b.append("\tAF stripes: ").append(k.stripes()).append('\n');
            b.append("\tAF hash:    ").append(k.afHash()).append('\n');
            b.append("\tArea offset:").append(k.areaOffset()).append(" [bytes]\n");
            b.append("\tArea length:").append(k.areaBytes()).append(" [bytes]\n");
            int id = k.id();
            h.digests().values().stream().filter(d -> d.keyslots().contains(id)).findFirst()
                    .ifPresent(d -> b.append("\tDigest ID:  ").append(d.id()).append('\n'));
        }
        b.append("Tokens:\n");
        for (Map.Entry<String, Object> t : Json.object(h.json, "tokens", "tokens").entrySet()) {
            Map<String, Object> tok = Json.object(t.getValue());
            b.append("  ").append(t.getKey()).append(": ").append(tok.get("type")).append('\n');
            if (tok.get("keyslots") instanceof List<?> l) {
                b.append("\tKeyslot:    ").append(String.join(", ", l.stream().map(String::valueOf).toList()))
                        .append('\n');
            }
        }
        b.append("Digests:\n");
        for (Luks2Header.Digest d : h.digests().values()) {
            b.append("  ").append(d.id()).append(": pbkdf2\n");
            b.append("\tHash:       ").append(d.hash()).append('\n');
            b.append("\tIterations: ").append(d.iterations()).append('\n');
            b.append("\tSalt:       ").append(hex(d.salt(), "\t            ")).append('\n');
            b.append("\tDigest:     ").append(hex(d.digest(), "\t            ")).append('\n');
        }
        return b.toString();
    }

    /** Hex in rows of 16 bytes, later rows after {@code indent}, as cryptsetup prints salts and digests. */
    private static String hex(byte[] b, String indent) {
        StringBuilder s = new StringBuilder();
        HexFormat hex = HexFormat.of();
        for (int i = 0; i < b.length; i++) {
            if (i > 0) {
                s.append(i % 16 == 0 ? "\n" + indent : " ");
            }
            s.append(hex.toHexDigits(b[i]));
        }
        return s.toString();
    }
}

package dev.loopdev.luks;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A LUKS2 header: two copies, each a 4096-byte binary header (magic, version, size, sequence number, checksum)
 * followed by a JSON area that describes the keyslots, the data segment and the digest of the volume key. Each copy
 * is checked by the SHA-256 (or the named hash) of its binary header, checksum zeroed, and its whole JSON area.
 *
 * <p>The JSON is kept as parsed ({@link Json}): what loopdev does not understand (tokens, flags) is written back as
 * it was. The typed views ({@link #segment}, {@link #keyslots}, {@link #digests}) are checked the way cryptsetup's
 * {@code LUKS2_hdr_validate} checks them, and features loopdev cannot serve are refused by name.
 */
final class Luks2Header {
    static final byte[] MAGIC_1ST = {'L', 'U', 'K', 'S', (byte) 0xba, (byte) 0xbe};
    static final byte[] MAGIC_2ND = {'S', 'K', 'U', 'L', (byte) 0xba, (byte) 0xbe};
    static final int BIN_BYTES = 4096;
    /** Where a secondary header may start: every valid header size (cryptsetup's LUKS2_HDR2_OFFSETS). */
    static final long[] SIZES = {0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000};
    static final long MAX_KEYSLOTS_BYTES = 0x8000000;
    static final int SALT_BYTES = 32;

    long hdrSize;
    long seqid;
    String label = "";
    String subsystem = "";
    String checksumAlg = "sha256";
    byte[] salt1 = new byte[64];
    byte[] salt2 = new byte[64];
    String uuid;
    Map<String, Object> json;

    /** A keyslot of type luks2 (the only one that holds a passphrase-protected copy of the volume key). */
    record Keyslot(int id, int keyBytes, Kdf kdf, byte[] salt, String afHash, int stripes, long areaOffset,
                   long areaBytes, String areaCipher, int areaKeyBytes, int priority) {
    }

    /** A pbkdf2 digest of the volume key: what tells the right key from a wrong one. */
    record Digest(int id, List<Integer> keyslots, List<Integer> segments, String hash, long iterations,
                  byte[] salt, byte[] digest) {
    }

    /** One copy as read: the header, or why it is not usable. */
    record Copy(Luks2Header header, String problem) {
    }

    // ---- reading

    /**
     * Parses and checks one copy: the binary header at {@code offset} (its first 4096 bytes in {@code bin}) and
     * its JSON area ({@code area}, {@code hdr_size - 4096} bytes).
     */
    static Copy parseCopy(byte[] bin, byte[] area, long offset, boolean secondary) {
        String problem = checkBinary(bin, offset, secondary);
        if (problem != null) {
            return new Copy(null, problem);
        }
        ByteBuffer b = ByteBuffer.wrap(bin);
        Luks2Header h = new Luks2Header();
        h.hdrSize = b.getLong(8);
        if (area.length != h.hdrSize - BIN_BYTES) {
            return new Copy(null, "its JSON area is cut short");
        }
        h.seqid = b.getLong(16);
        h.label = Luks1Header.cString(bin, 24, 48);
        h.checksumAlg = Luks1Header.cString(bin, 72, 32);
        byte[] salt = Arrays.copyOfRange(bin, 104, 168);
        h.uuid = Luks1Header.cString(bin, 168, 40);
        h.subsystem = Luks1Header.cString(bin, 208, 48);
        if (secondary) {
            h.salt2 = salt;
        } else {
            h.salt1 = salt;
        }
        byte[] expected;
        try {
            expected = checksum(h.checksumAlg, bin, area);
        } catch (LuksException e) {
            return new Copy(null, "unknown checksum algorithm '" + h.checksumAlg + "'");
        }
        if (!MessageDigest.isEqual(expected, Arrays.copyOfRange(bin, 448, 448 + expected.length))) {
            return new Copy(null, "checksum mismatch");
        }
        try {
            h.json = Json.parseArea(area);
            h.checkConfig();
        } catch (LuksException e) {
            return new Copy(null, "bad metadata: " + e.getMessage());
        }
        return new Copy(h, null);
    }

    /** cryptsetup's {@code hdr_disk_sanity_check_pre}; null when the binary header may be a LUKS2 header. */
    static String checkBinary(byte[] bin, long offset, boolean secondary) {
        if (!Arrays.equals(bin, 0, 6, secondary ? MAGIC_2ND : MAGIC_1ST, 0, 6)) {
            return "no LUKS2 magic";
        }
        ByteBuffer b = ByteBuffer.wrap(bin);
        if (b.getShort(6) != 2) {
            return "version " + b.getShort(6);
        }
        if (b.getLong(256) != offset) {
            return "it says it is at offset " + b.getLong(256) + ", not " + offset;
        }
        long size = b.getLong(8);
        if (Arrays.stream(SIZES).noneMatch(s -> s == size)) {
            return "bad header size " + size;
        }
        if (secondary && offset != size) {
            return "secondary header at " + offset + " with size " + size;
        }
        return null;
    }

    /** The hash of the binary header (checksum field zeroed) and the whole JSON area. */
    static byte[] checksum(String alg, byte[] bin, byte[] area) {
        MessageDigest md = Hashes.jdk(alg);
        byte[] zeroed = bin.clone();
        Arrays.fill(zeroed, 448, 512, (byte) 0);
        md.update(zeroed, 0, BIN_BYTES);
        md.update(area);
        return md.digest();
    }

    // ---- writing

    /**
     * The two copies, each binary header plus JSON area ({@code hdrSize} bytes), for sequence number
     * {@code seqid}: the primary for offset 0, the secondary for offset {@code hdrSize}.
     */
    byte[][] copies(long seqid) {
        byte[] text = Json.write(json);
        int areaBytes = (int) (hdrSize - BIN_BYTES);
        if (text.length > areaBytes - 1) {
            throw new LuksException("the LUKS2 metadata (" + text.length + " bytes) does not fit its JSON area ("
                    + areaBytes + " bytes)");
        }
        byte[] area = Arrays.copyOf(text, areaBytes);
        return new byte[][] {copy(area, seqid, false), copy(area, seqid, true)};
    }

    private byte[] copy(byte[] area, long seqid, boolean secondary) {
        byte[] bin = new byte[BIN_BYTES];
        ByteBuffer b = ByteBuffer.wrap(bin);
        System.arraycopy(secondary ? MAGIC_2ND : MAGIC_1ST, 0, bin, 0, 6);
        b.putShort(6, (short) 2);
        b.putLong(8, hdrSize);
        b.putLong(16, seqid);
        putLimited(bin, 24, 48, label);
        Luks1Header.putString(bin, 72, 32, checksumAlg);
        System.arraycopy(secondary ? salt2 : salt1, 0, bin, 104, 64);
        Luks1Header.putString(bin, 168, 40, uuid);
        putLimited(bin, 208, 48, subsystem);
        b.putLong(256, secondary ? hdrSize : 0);
        byte[] sum = checksum(checksumAlg, bin, area);
        System.arraycopy(sum, 0, bin, 448, sum.length);
        byte[] out = Arrays.copyOf(bin, (int) hdrSize);
        System.arraycopy(area, 0, out, BIN_BYTES, area.length);
        return out;
    }

    private static void putLimited(byte[] raw, int at, int len, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > len - 1) {
            throw new LuksException("'" + s + "' is longer than " + (len - 1) + " bytes");
        }
        System.arraycopy(b, 0, raw, at, b.length);
    }

    // ---- typed views, checked

    long keyslotsBytes() {
        return Json.uint64(Json.object(json, "config", "config"), "keyslots_size", "config");
    }

    /** The offset of the keyslots area and its end: between the two header copies and the data. */
    long areasStart() {
        return 2 * hdrSize;
    }

    long areasEnd() {
        return areasStart() + keyslotsBytes();
    }

    private void checkConfig() {
        Map<String, Object> config = Json.object(json, "config", "config");
        long jsonSize = Json.uint64(config, "json_size", "config");
        if (jsonSize != hdrSize - BIN_BYTES) {
            throw new LuksException("config json_size " + jsonSize + " does not match the header size " + hdrSize);
        }
        long ks = keyslotsBytes();
        if (ks % 4096 != 0 || ks > MAX_KEYSLOTS_BYTES) {
            throw new LuksException("unsupported keyslots area size " + ks);
        }
        for (String section : new String[] {"keyslots", "tokens", "segments", "digests"}) {
            Map<String, Object> s = Json.object(json, section, section);
            for (String key : s.keySet()) {
                if (key.isEmpty() || !key.chars().allMatch(Character::isDigit) || key.length() > 9) {
                    throw new LuksException(section + " \"" + key + "\" is not in numbered form");
                }
            }
        }
    }

    /**
     * Refuses what loopdev cannot serve, read-only included, each by name: mandatory requirements (a reencryption
     * in progress, OPAL, inline integrity tags, anything unknown), more or other than one crypt segment, and
     * integrity (AEAD) segments.
     */
    void checkSupported(String where) {
        Map<String, Object> config = Json.object(json, "config", "config");
        Object req = config.get("requirements");
        if (req != null) {
            Object mandatory = Json.object(req).get("mandatory");
            if (mandatory instanceof List<?> flags && !flags.isEmpty()) {
                List<String> names = new ArrayList<>();
                for (Object f : flags) {
                    names.add(String.valueOf(f));
                }
                String what = names.stream().anyMatch(n -> n.startsWith("online-reencrypt"))
                        ? "a reencryption is in progress; finish it with cryptsetup reencrypt first"
                        : "loopdev does not support these features";
                throw new LuksException(where + ": the LUKS2 header requires " + String.join(", ", names)
                        + " (" + what + ")");
            }
        }
        Map<String, Object> segments = Json.object(json, "segments", "segments");
        if (segments.size() != 1) {
            throw new LuksException(where + ": the LUKS2 header has " + segments.size()
                    + " segments; loopdev serves exactly one crypt segment (a reencryption left unfinished?)");
        }
        Map<String, Object> seg = Json.object(segments.values().iterator().next());
        String type = Json.string(seg, "type", "segment");
        if (!type.equals("crypt")) {
            throw new LuksException(where + ": LUKS2 segment type '" + type + "' is not supported");
        }
        if (seg.containsKey("integrity")) {
            throw new LuksException(where + ": LUKS2 integrity (AEAD) segments are not supported");
        }
        if (seg.get("flags") instanceof List<?> f && !f.isEmpty()) {
            throw new LuksException(where + ": LUKS2 segment flags " + f + " are not supported");
        }
    }

    /** The one crypt segment (see {@link #checkSupported}). */
    DataSegment segment() {
        Map<String, Object> segments = Json.object(json, "segments", "segments");
        String id = segments.keySet().iterator().next();
        String where = "segment " + id;
        Map<String, Object> seg = Json.object(segments.get(id));
        long offset = Json.uint64(seg, "offset", where);
        String sizeText = Json.string(seg, "size", where);
        long size = sizeText.equals("dynamic") ? -1 : Json.uint64(seg, "size", where);
        long sectorSize = Json.integer(seg, "sector_size", where);
        if (sectorSize < 512 || sectorSize > 4096 || Long.bitCount(sectorSize) != 1) {
            throw new LuksException(where + ": unsupported sector size " + sectorSize);
        }
        if (offset % 512 != 0 || offset % sectorSize != 0) {
            throw new LuksException(where + ": offset " + offset + " is not aligned to the sector size");
        }
        if (size == 0 || (size > 0 && size % sectorSize != 0)) {
            throw new LuksException(where + ": size " + size + " is not a positive multiple of the sector size");
        }
        long ivTweak = Json.uint64(seg, "iv_tweak", where);
        String cipher = Json.string(seg, "encryption", where);
        Digest d = digestOfSegment(Integer.parseInt(id));
        int keyBytes = keyslots().values().stream().filter(k -> d.keyslots().contains(k.id()))
                .mapToInt(Keyslot::keyBytes).findFirst().orElse(-1);
        return new DataSegment(offset, size, cipher, keyBytes, (int) sectorSize, ivTweak);
    }

    /** Every keyslot of type luks2, by number. Keyslots of other types (none in use today) are left out. */
    TreeMap<Integer, Keyslot> keyslots() {
        TreeMap<Integer, Keyslot> out = new TreeMap<>();
        Map<String, Object> slots = Json.object(json, "keyslots", "keyslots");
        for (Map.Entry<String, Object> e : slots.entrySet()) {
            int id = Integer.parseInt(e.getKey());
            String where = "keyslot " + id;
            Map<String, Object> k = Json.object(e.getValue());
            if (!Json.string(k, "type", where).equals("luks2")) {
                continue;
            }
            Map<String, Object> kdf = Json.object(k, "kdf", where);
            Map<String, Object> af = Json.object(k, "af", where);
            Map<String, Object> area = Json.object(k, "area", where);
            if (!Json.string(af, "type", where).equals("luks1")) {
                throw new LuksException(where + ": unsupported AF type '" + af.get("type") + "'");
            }
            if (!Json.string(area, "type", where).equals("raw")) {
                throw new LuksException(where + ": unsupported area type '" + area.get("type") + "'");
            }
            long stripes = Json.integer(af, "stripes", where);
            if (stripes != AfSplitter.STRIPES) {
                throw new LuksException(where + ": " + stripes + " AF stripes (LUKS2 uses " + AfSplitter.STRIPES + ")");
            }
            int keyBytes = (int) Json.integer(k, "key_size", where);
            long priority = k.containsKey("priority") ? Json.integer(k, "priority", where) : 1;
            byte[] salt = base64(Json.string(kdf, "salt", where), where + " salt");
            if (salt.length != SALT_BYTES) {
                throw new LuksException(where + ": salt of " + salt.length + " bytes (expected " + SALT_BYTES + ")");
            }
            long areaOffset = Json.uint64(area, "offset", where);
            long areaBytes = Json.uint64(area, "size", where);
            if (areaOffset < areasStart() || areaOffset + areaBytes > areasEnd() || areaBytes == 0) {
                throw new LuksException(where + ": area [" + areaOffset + ", +" + areaBytes
                        + ") lies outside the keyslots area");
            }
            if (keyBytes < 1 || keyBytes > 512
                    || AfSplitter.materialBytes(keyBytes, AfSplitter.STRIPES) > areaBytes) {
                throw new LuksException(where + ": key size " + keyBytes + " does not fit its area");
            }
            out.put(id, new Keyslot(id, keyBytes, Kdf.fromJson(kdf, where), salt, Hashes.check(Json.string(af,
                    "hash", where)), (int) stripes, areaOffset, areaBytes, Json.string(area, "encryption", where),
                    (int) Json.integer(area, "key_size", where), (int) priority));
        }
        checkNoOverlap(out);
        return out;
    }

    private static void checkNoOverlap(TreeMap<Integer, Keyslot> slots) {
        List<Keyslot> byOffset = new ArrayList<>(slots.values());
        byOffset.sort((a, b) -> Long.compare(a.areaOffset(), b.areaOffset()));
        for (int i = 1; i < byOffset.size(); i++) {
            Keyslot prev = byOffset.get(i - 1);
            if (byOffset.get(i).areaOffset() < prev.areaOffset() + prev.areaBytes()) {
                throw new LuksException("keyslots " + prev.id() + " and " + byOffset.get(i).id() + " overlap");
            }
        }
    }

    TreeMap<Integer, Digest> digests() {
        TreeMap<Integer, Digest> out = new TreeMap<>();
        for (Map.Entry<String, Object> e : Json.object(json, "digests", "digests").entrySet()) {
            int id = Integer.parseInt(e.getKey());
            String where = "digest " + id;
            Map<String, Object> d = Json.object(e.getValue());
            String type = Json.string(d, "type", where);
            if (!type.equals("pbkdf2")) {
                throw new LuksException(where + ": unsupported digest type '" + type + "'");
            }
            out.put(id, new Digest(id, numbers(Json.array(d, "keyslots", where), where),
                    numbers(Json.array(d, "segments", where), where), Hashes.check(Json.string(d, "hash", where)),
                    Json.integer(d, "iterations", where), base64(Json.string(d, "salt", where), where),
                    base64(Json.string(d, "digest", where), where)));
        }
        return out;
    }

    Digest digestOfSegment(int segment) {
        return digests().values().stream().filter(d -> d.segments().contains(segment)).findFirst()
                .orElseThrow(() -> new LuksException("segment " + segment + " has no digest"));
    }

    private static List<Integer> numbers(List<Object> a, String where) {
        List<Integer> out = new ArrayList<>();
        for (Object o : a) {
            if (!(o instanceof String s) || s.isEmpty() || !s.chars().allMatch(Character::isDigit) || s.length() > 9) {
                throw new LuksException(where + ": '" + o + "' is not a number in a string");
            }
            out.add(Integer.parseInt(s));
        }
        return out;
    }

    static byte[] base64(String s, String where) {
        try {
            return Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw new LuksException(where + ": not base64");
        }
    }

    /** A deep copy of the JSON, to change and write while this header stays as it was read. */
    Luks2Header copyForUpdate() {
        Luks2Header h = new Luks2Header();
        h.hdrSize = hdrSize;
        h.seqid = seqid;
        h.label = label;
        h.subsystem = subsystem;
        h.checksumAlg = checksumAlg;
        h.salt1 = salt1.clone();
        h.salt2 = salt2.clone();
        h.uuid = uuid;
        h.json = Json.object(Json.parse(new String(Json.write(json), StandardCharsets.UTF_8)));
        return h;
    }

    /** The keyslots object, to add or remove entries in an update. */
    Map<String, Object> keyslotsJson() {
        return Json.object(json, "keyslots", "keyslots");
    }

    /** The JSON object of one new luks2 keyslot, in cryptsetup's key order. */
    static Map<String, Object> keyslotJson(int keyBytes, Kdf kdf, byte[] salt, String afHash, long areaOffset,
                                           long areaBytes, String areaCipher) {
        Map<String, Object> k = new LinkedHashMap<>();
        k.put("type", "luks2");
        k.put("key_size", Json.Num.of(keyBytes));
        Map<String, Object> af = new LinkedHashMap<>();
        af.put("type", "luks1");
        af.put("stripes", Json.Num.of(AfSplitter.STRIPES));
        af.put("hash", afHash);
        k.put("af", af);
        Map<String, Object> area = new LinkedHashMap<>();
        area.put("type", "raw");
        area.put("offset", Long.toString(areaOffset));
        area.put("size", Long.toString(areaBytes));
        area.put("encryption", areaCipher);
        area.put("key_size", Json.Num.of(keyBytes));
        k.put("area", area);
        Map<String, Object> kdfJson = kdf.toJson();
        kdfJson.put("salt", Base64.getEncoder().encodeToString(salt));
        k.put("kdf", kdfJson);
        return k;
    }

    /** Adds or removes {@code slot} in the keyslots list of the digest of segment 0's key. */
    void assignToDigest(int slot, boolean assign) {
        Map<String, Object> digests = Json.object(json, "digests", "digests");
        for (Object d : digests.values()) {
            List<Object> slots = Json.array(Json.object(d), "keyslots", "digest");
            slots.remove(Integer.toString(slot));
            if (assign && Json.array(Json.object(d), "segments", "digest").contains("0")) {
                slots.add(Integer.toString(slot));
                slots.sort((a, b) -> Integer.compare(Integer.parseInt((String) a), Integer.parseInt((String) b)));
            }
        }
    }
}

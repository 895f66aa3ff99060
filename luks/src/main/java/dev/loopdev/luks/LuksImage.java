package dev.loopdev.luks;

import dev.loopdev.LoopConfig;
import dev.loopdev.Transform;
import dev.loopdev.transforms.Transforms;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A LUKS1 or LUKS2 image (or detached header), opened to unlock its volume key and to manage its keyslots as
 * cryptsetup does, so that the image stays usable by {@code cryptsetup open} on any Linux machine.
 *
 * <p>Opening never writes. Every change is ordered so that a crash at any instant leaves a header that opens with
 * the old passphrases or with the new ones: new key material is written to an area no keyslot points at and synced
 * before the header that points at it; LUKS2's two header copies are rewritten one after the other, each synced,
 * with a higher sequence number (a torn copy fails its checksum and the other one is used); material is wiped before
 * the header stops pointing at it, as cryptsetup does, so that a crash can leave a dead keyslot but never a live
 * copy of a removed passphrase's key.
 */
public final class LuksImage implements Closeable {
    /** The source of salts, padding and AF stripes; made on first use (probing an image needs none). */
    static SecureRandom random() {
        return Random.INSTANCE;
    }

    private static final class Random {
        static final SecureRandom INSTANCE = new SecureRandom();
    }

    private final HeaderFile file;
    private Luks1Header v1;
    private Luks2Header v2;
    private final List<String> warnings = new ArrayList<>();

    private LuksImage(HeaderFile file) {
        this.file = file;
    }

    /**
     * Which LUKS version the file's header is, 0 if it has none: the LUKS magic at the start, or for a LUKS2 image
     * whose primary header was destroyed, the secondary's magic at one of the offsets where it may be.
     */
    public static int probe(Path path) throws IOException {
        try (HeaderFile f = HeaderFile.open(path, false)) {
            byte[] start = f.read(0, 8);
            if (Arrays.equals(start, 0, 6, Luks1Header.MAGIC, 0, 6)) {
                int version = ((start[6] & 0xff) << 8) | (start[7] & 0xff);
                return version == 1 || version == 2 ? version : -1;
            }
            for (long off : Luks2Header.SIZES) {
                if (Arrays.equals(f.read(off, 6), Luks2Header.MAGIC_2ND)) {
                    return 2;
                }
            }
            return 0;
        }
    }

    /** Opens the header in {@code path} (the image, or a detached header), read-only unless {@code writable}. */
    public static LuksImage open(Path path, boolean writable) throws IOException {
        HeaderFile f = HeaderFile.open(path, writable);
        LuksImage img = new LuksImage(f);
        try {
            img.read();
            return img;
        } catch (IOException | RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private void read() throws IOException {
        String where = file.path.toString();
        byte[] start = file.read(0, Luks2Header.BIN_BYTES);
        if (Luks1Header.hasMagic(start)) {
            v1 = Luks1Header.parse(file.read(0, Luks1Header.SIZE), where);
            if (file.size() < v1.areasEndBytes()) {
                throw new LuksException(where + " is too small for its LUKS1 key material (" + file.size()
                        + " bytes, the key slots end at " + v1.areasEndBytes() + "); the image is truncated");
            }
            return;
        }
        Luks2Header.Copy primary;
        Luks2Header.Copy secondary = null;
        String binProblem = Luks2Header.checkBinary(start, 0, false);
        if (binProblem == null) {
            long size = ByteBuffer.wrap(start).getLong(8);
            primary = Luks2Header.parseCopy(start, file.read(Luks2Header.BIN_BYTES,
                    (int) (size - Luks2Header.BIN_BYTES)), 0, false);
            secondary = readSecondary(size);
        } else {
            primary = new Luks2Header.Copy(null, binProblem);
        }
        if (secondary == null || secondary.header() == null) {
            for (long off : Luks2Header.SIZES) {
                Luks2Header.Copy c = readSecondary(off);
                if (c.header() != null || secondary == null) {
                    secondary = c;
                }
                if (c.header() != null) {
                    break;
                }
            }
        }
        Luks2Header p = primary.header();
        Luks2Header s = secondary.header();
        if (p == null && s == null) {
            if (binProblem != null && secondary.problem().equals("no LUKS2 magic")) {
                throw new LuksException(where + " is not a LUKS device");
            }
            throw new LuksException(where + ": no valid LUKS2 header (primary: " + primary.problem()
                    + "; secondary: " + secondary.problem() + ")");
        }
        if (p != null && s != null) {
            v2 = s.seqid > p.seqid ? s : p;
            v2.salt1 = p.salt1;
            v2.salt2 = s.salt2;
            if (s.seqid != p.seqid) {
                warnings.add("the " + (v2 == p ? "secondary" : "primary") + " LUKS2 header is older (seqid "
                        + Math.min(p.seqid, s.seqid) + " < " + v2.seqid + "): an update was interrupted; the next "
                        + "change rewrites both");
            }
        } else if (p != null) {
            v2 = p;
            v2.salt2 = randomBytes(64);
            warnings.add("the secondary LUKS2 header is damaged (" + secondary.problem() + "); using the primary "
                    + "(the next change rewrites both)");
        } else {
            v2 = s;
            v2.salt1 = randomBytes(64);
            warnings.add("the primary LUKS2 header is damaged (" + primary.problem() + "); using the secondary "
                    + "(the next change rewrites both)");
        }
        v2.checkSupported(where);
        v2.segment();
        for (Luks2Header.Keyslot k : v2.keyslots().values()) {
            if (file.size() < k.areaOffset() + k.areaBytes()) {
                throw new LuksException(where + " is too small for its keyslot " + k.id() + " (" + file.size()
                        + " bytes, the keyslot's area ends at " + (k.areaOffset() + k.areaBytes())
                        + "); the image is truncated");
            }
        }
    }

    private Luks2Header.Copy readSecondary(long offset) throws IOException {
        byte[] bin = file.read(offset, Luks2Header.BIN_BYTES);
        String problem = Luks2Header.checkBinary(bin, offset, true);
        if (problem != null) {
            return new Luks2Header.Copy(null, problem);
        }
        long size = ByteBuffer.wrap(bin).getLong(8);
        return Luks2Header.parseCopy(bin, file.read(offset + Luks2Header.BIN_BYTES,
                (int) (size - Luks2Header.BIN_BYTES)), offset, true);
    }

    public int version() {
        return v1 != null ? 1 : 2;
    }

    public Path path() {
        return file.path;
    }

    /** What was found wrong but could be worked around (a damaged or older header copy), one line each. */
    public List<String> warnings() {
        return List.copyOf(warnings);
    }

    public String uuid() {
        return v1 != null ? v1.uuid : v2.uuid;
    }

    /** The data segment: what a device over the data file serves. */
    public DataSegment segment() {
        if (v1 != null) {
            return new DataSegment(v1.payloadOffsetSectors * 512, -1, v1.cipherSpec(), v1.keyBytes, 512, 0);
        }
        return v2.segment();
    }

    /** The numbers of the keyslots that hold a key. */
    public List<Integer> activeKeyslots() {
        List<Integer> out = new ArrayList<>();
        if (v1 != null) {
            for (int i = 0; i < Luks1Header.SLOTS; i++) {
                if (v1.slots[i].isActive()) {
                    out.add(i);
                }
            }
        } else {
            out.addAll(v2.keyslots().keySet());
        }
        return out;
    }

    /** The transform that decrypts the data segment with {@code key}; its IVs count as dm-crypt's do. */
    public Transform transform(VolumeKey key) {
        DataSegment s = segment();
        try {
            return Transforms.create(s.cipher(), key.bytes(), s.deviceIvOffset(), s.sectorSize());
        } catch (IllegalArgumentException e) {
            throw new LuksException(file.path + ": data cipher " + s.cipher() + ": " + e.getMessage());
        }
    }

    /**
     * What {@code losetup} would be told for the data segment of {@code dataFile} (the image itself, or the data
     * file beside a detached header): the segment's window, its sector size as the block size, and the transform
     * that decrypts it with {@code key}. The caller owns the transform once it opens the device.
     */
    public LoopConfig loopConfig(Path dataFile, VolumeKey key) {
        DataSegment s = segment();
        return LoopConfig.of(dataFile).withOffset(s.offsetBytes()).withSizeLimit(s.isDynamic() ? 0 : s.sizeBytes())
                .withBlockSize(s.sectorSize()).withTransform(transform(key));
    }

    // ---- unlocking

    /**
     * The volume key, from the first keyslot the passphrase opens ({@code slot} only, if not negative), checked
     * against the header's digest. LUKS2 keyslots of priority "prefer" are tried first, "ignore" ones only when
     * named. Throws {@link LuksException.WrongPassphrase} when none opens.
     */
    public VolumeKey unlock(byte[] passphrase, int slot) throws IOException {
        List<Integer> order = new ArrayList<>();
        if (slot >= 0) {
            if (!activeKeyslots().contains(slot)) {
                throw new LuksException("Keyslot " + slot + " is not active.");
            }
            order.add(slot);
        } else if (v1 != null) {
            order.addAll(activeKeyslots());
        } else {
            TreeMap<Integer, Luks2Header.Keyslot> slots = v2.keyslots();
            slots.values().stream().filter(k -> k.priority() == 2).forEach(k -> order.add(k.id()));
            slots.values().stream().filter(k -> k.priority() == 1).forEach(k -> order.add(k.id()));
        }
        for (int s : order) {
            byte[] key = v1 != null ? openLuks1(s, passphrase) : openLuks2(s, passphrase);
            if (key != null) {
                return new VolumeKey(key, s);
            }
        }
        throw new LuksException.WrongPassphrase();
    }

    private byte[] openLuks1(int s, byte[] passphrase) throws IOException {
        Luks1Header.Slot slot = v1.slots[s];
        int n = AfSplitter.materialBytes(v1.keyBytes, AfSplitter.STRIPES);
        byte[] derived = new Kdf.Pbkdf2(v1.hashSpec, slot.iterations).derive(passphrase, slot.salt, v1.keyBytes);
        byte[] material = decrypt(v1.cipherSpec(), derived, file.read(slot.materialOffsetSectors * 512, n), s);
        byte[] key = AfSplitter.merge(material, v1.keyBytes, AfSplitter.STRIPES, v1.hashSpec);
        Arrays.fill(material, (byte) 0);
        byte[] digest = new Kdf.Pbkdf2(v1.hashSpec, v1.mkDigestIterations).derive(key, v1.mkDigestSalt,
                Luks1Header.DIGEST_BYTES);
        if (MessageDigest.isEqual(digest, v1.mkDigest)) {
            return key;
        }
        Arrays.fill(key, (byte) 0);
        return null;
    }

    private byte[] openLuks2(int s, byte[] passphrase) throws IOException {
        Luks2Header.Keyslot k = v2.keyslots().get(s);
        Luks2Header.Digest d = v2.digests().values().stream().filter(x -> x.keyslots().contains(s)).findFirst()
                .orElse(null);
        if (k == null || d == null) {
            return null;
        }
        int n = AfSplitter.materialBytes(k.keyBytes(), AfSplitter.STRIPES);
        byte[] derived = k.kdf().derive(passphrase, k.salt(), k.areaKeyBytes());
        byte[] material = decrypt(k.areaCipher(), derived, file.read(k.areaOffset(), n), s);
        byte[] key = AfSplitter.merge(material, k.keyBytes(), AfSplitter.STRIPES, k.afHash());
        Arrays.fill(material, (byte) 0);
        if (verify(d, key)) {
            return key;
        }
        Arrays.fill(key, (byte) 0);
        return null;
    }

    private static boolean verify(Luks2Header.Digest d, byte[] key) {
        byte[] check = new Kdf.Pbkdf2(d.hash(), d.iterations()).derive(key, d.salt(), d.digest().length);
        try {
            return MessageDigest.isEqual(check, d.digest());
        } finally {
            Arrays.fill(check, (byte) 0);
        }
    }

    /** Decrypts keyslot material: 512-byte sectors, IVs from 0 at the start of the area. Wipes the key. */
    private byte[] decrypt(String cipher, byte[] derivedKey, byte[] raw, int slot) {
        try (Transform t = keyslotCipher(cipher, derivedKey, slot)) {
            byte[] plain = new byte[raw.length];
            t.decode(ByteBuffer.wrap(raw), ByteBuffer.wrap(plain), 0);
            return plain;
        }
    }

    static byte[] encrypt(String cipher, byte[] derivedKey, byte[] plain, int slot) {
        try (Transform t = keyslotCipher(cipher, derivedKey, slot)) {
            byte[] raw = new byte[plain.length];
            t.encode(ByteBuffer.wrap(plain), ByteBuffer.wrap(raw), 0);
            return raw;
        }
    }

    private static Transform keyslotCipher(String cipher, byte[] derivedKey, int slot) {
        try {
            return Transforms.create(cipher, derivedKey, 0);
        } catch (IllegalArgumentException e) {
            throw new LuksException("keyslot " + slot + ": cipher " + cipher + " is not supported (" + e.getMessage()
                    + ")");
        } finally {
            Arrays.fill(derivedKey, (byte) 0);
        }
    }

    // ---- changing keyslots

    /**
     * Adds a keyslot holding {@code key} under {@code passphrase}: in slot {@code slot}, or the first free one.
     * Returns the slot's number.
     */
    public int addKey(VolumeKey key, byte[] passphrase, KdfSettings kdf, int slot) throws IOException {
        if (v1 != null) {
            int s = freeLuks1Slot(slot);
            Luks1Header updated = Luks1Header.parse(v1.toBytes(), file.path.toString());
            storeLuks1(updated, s, key.bytes(), passphrase, kdf);
            writeLuks1(updated, "header (keyslot " + s + " enabled)");
            return s;
        }
        int s = freeLuks2Slot(slot);
        Luks2Header updated = v2.copyForUpdate();
        storeLuks2(updated, s, key.bytes(), passphrase, kdf, null);
        writeLuks2(updated);
        return s;
    }

    /**
     * Replaces the passphrase of the keyslot {@code oldPassphrase} opens ({@code slot} only, if not negative). The
     * new key material goes to free space first: on LUKS2 the keyslot keeps its number and points at a new area;
     * on LUKS1 the key moves to a free slot, whose number is returned, as cryptsetup's luksChangeKey does.
     */
    public int changeKey(byte[] oldPassphrase, byte[] newPassphrase, KdfSettings kdf, int slot) throws IOException {
        try (VolumeKey key = unlock(oldPassphrase, slot)) {
            int old = key.slot();
            if (v1 != null) {
                int s = freeLuks1Slot(-1, "a crash-safe change needs a free keyslot; remove one first");
                Luks1Header updated = Luks1Header.parse(v1.toBytes(), file.path.toString());
                storeLuks1(updated, s, key.bytes(), newPassphrase, kdf);
                writeLuks1(updated, "header (keyslot " + s + " enabled)");
                killLuks1(old);
                return s;
            }
            Luks2Header.Keyslot previous = v2.keyslots().get(old);
            Luks2Header updated = v2.copyForUpdate();
            storeLuks2(updated, old, key.bytes(), newPassphrase, kdf, previous);
            writeLuks2(updated);
            wipe(previous.areaOffset(), previous.areaBytes(), "old keyslot " + old + " material");
            return old;
        }
    }

    /**
     * Removes keyslot {@code slot}: its material is overwritten with random bytes and synced, then the header
     * stops pointing at it. Refuses the last keyslot unless {@code allowLast} (the image could never be opened
     * again).
     */
    public void killSlot(int slot, boolean allowLast) throws IOException {
        List<Integer> active = activeKeyslots();
        if (!active.contains(slot)) {
            throw new LuksException("Keyslot " + slot + " is not active.");
        }
        if (active.size() == 1 && !allowLast) {
            throw new LuksException("keyslot " + slot + " is the last one: the image could never be opened again "
                    + "(--force to remove it anyway)");
        }
        if (v1 != null) {
            killLuks1(slot);
            return;
        }
        Luks2Header.Keyslot k = v2.keyslots().get(slot);
        wipe(k.areaOffset(), k.areaBytes(), "keyslot " + slot + " material");
        Luks2Header updated = v2.copyForUpdate();
        updated.keyslotsJson().remove(Integer.toString(slot));
        updated.assignToDigest(slot, false);
        for (Object token : Json.object(updated.json, "tokens", "tokens").values()) {
            Object slots = Json.object(token).get("keyslots");
            if (slots instanceof List<?> l) {
                l.remove(Integer.toString(slot));
            }
        }
        writeLuks2(updated);
    }

    /** Removes the keyslot {@code passphrase} opens; returns its number. */
    public int removeKey(byte[] passphrase, boolean allowLast) throws IOException {
        int slot;
        try (VolumeKey key = unlock(passphrase, -1)) {
            slot = key.slot();
        }
        killSlot(slot, allowLast);
        return slot;
    }

    private int freeLuks1Slot(int wanted) {
        return freeLuks1Slot(wanted, "all key slots are full");
    }

    private int freeLuks1Slot(int wanted, String whenFull) {
        if (wanted >= Luks1Header.SLOTS) {
            throw new LuksException("keyslot " + wanted + " is out of range (LUKS1 has 8: 0 to 7)");
        }
        if (wanted >= 0) {
            if (v1.slots[wanted].isActive()) {
                throw new LuksException("Keyslot " + wanted + " is active; remove it first");
            }
            return wanted;
        }
        for (int i = 0; i < Luks1Header.SLOTS; i++) {
            if (!v1.slots[i].isActive()) {
                return i;
            }
        }
        throw new LuksException(file.path + ": " + whenFull);
    }

    private int freeLuks2Slot(int wanted) {
        Map<String, Object> slots = v2.keyslotsJson();
        if (wanted >= 32) {
            throw new LuksException("keyslot " + wanted + " is out of range (LUKS2 has 32: 0 to 31)");
        }
        if (wanted >= 0) {
            if (slots.containsKey(Integer.toString(wanted))) {
                throw new LuksException("Keyslot " + wanted + " is active; remove it first");
            }
            return wanted;
        }
        for (int i = 0; i < 32; i++) {
            if (!slots.containsKey(Integer.toString(i))) {
                return i;
            }
        }
        throw new LuksException(file.path + ": all 32 key slots are full");
    }

    /** Writes the material of slot {@code s} (its area is not in use: the slot is inactive), and enables it. */
    private void storeLuks1(Luks1Header h, int s, byte[] key, byte[] passphrase, KdfSettings settings)
            throws IOException {
        if (!settings.type().equals("pbkdf2")) {
            throw new LuksException("LUKS1 keyslots use pbkdf2, not " + settings.type());
        }
        Kdf.Pbkdf2 kdf = (Kdf.Pbkdf2) settings.withHash(h.hashSpec).calibrate(h.keyBytes);
        Luks1Header.Slot slot = h.slots[s];
        slot.salt = randomBytes(Luks1Header.SALT_BYTES);
        slot.iterations = Math.max(KdfSettings.MIN_PBKDF2_ITERATIONS, kdf.iterations());
        byte[] derived = kdf.derive(passphrase, slot.salt, h.keyBytes);
        byte[] split = AfSplitter.split(key, AfSplitter.STRIPES, h.hashSpec, random());
        byte[] material = encrypt(h.cipherSpec(), derived, split, s);
        Arrays.fill(split, (byte) 0);
        file.write(material, slot.materialOffsetSectors * 512, "keyslot " + s + " material");
        file.sync();
        slot.active = Luks1Header.ENABLED;
    }

    private void killLuks1(int s) throws IOException {
        Luks1Header.Slot slot = v1.slots[s];
        wipe(slot.materialOffsetSectors * 512, AfSplitter.materialBytes(v1.keyBytes, AfSplitter.STRIPES),
                "keyslot " + s + " material");
        Luks1Header updated = Luks1Header.parse(v1.toBytes(), file.path.toString());
        updated.slots[s].active = Luks1Header.DISABLED;
        updated.slots[s].iterations = 0;
        updated.slots[s].salt = new byte[Luks1Header.SALT_BYTES];
        writeLuks1(updated, "header (keyslot " + s + " disabled)");
    }

    /**
     * Puts keyslot {@code s} into {@code h}: material for {@code key} under {@code passphrase} in a free area
     * (none that {@code h}'s keyslots use, nor {@code replacing}'s), written and synced before returning.
     */
    private void storeLuks2(Luks2Header h, int s, byte[] key, byte[] passphrase, KdfSettings settings,
                            Luks2Header.Keyslot replacing) throws IOException {
        DataSegment seg = h.segment();
        String areaCipher = replacing != null ? replacing.areaCipher() : seg.cipher();
        int areaKeyBytes = replacing != null ? replacing.areaKeyBytes() : key.length;
        long areaBytes = roundUp(AfSplitter.materialBytes(key.length, AfSplitter.STRIPES), 4096);
        long areaOffset = findAreaGap(h, areaBytes);
        Kdf kdf = settings.calibrate(areaKeyBytes);
        byte[] salt = randomBytes(Luks2Header.SALT_BYTES);
        byte[] derived = kdf.derive(passphrase, salt, areaKeyBytes);
        byte[] split = AfSplitter.split(key, AfSplitter.STRIPES, settings.hash(), random());
        byte[] material = encrypt(areaCipher, derived, split, s);
        Arrays.fill(split, (byte) 0);
        byte[] padded = Arrays.copyOf(material, (int) areaBytes);
        random().nextBytes(padded);
        System.arraycopy(material, 0, padded, 0, material.length);
        file.write(padded, areaOffset, "keyslot " + s + " material");
        file.sync();
        Map<String, Object> json = Luks2Header.keyslotJson(key.length, kdf, salt, settings.hash(), areaOffset,
                areaBytes, areaCipher);
        Object priority = replacing == null ? null
                : Json.object(h.keyslotsJson().get(Integer.toString(s))).get("priority");
        if (priority != null) {
            json.put("priority", priority);
        }
        Json.object(json, "area", "keyslot").put("key_size", Json.Num.of(areaKeyBytes));
        h.keyslotsJson().put(Integer.toString(s), json);
        sortKeys(h.keyslotsJson());
        h.assignToDigest(s, true);
    }

    /** cryptsetup's LUKS2_find_area_gap: the first gap of {@code length} bytes, from the start of the area. */
    private long findAreaGap(Luks2Header h, long length) {
        List<long[]> used = new ArrayList<>();
        for (Object k : h.keyslotsJson().values()) {
            Map<String, Object> area = Json.object(Json.object(k), "area", "keyslot");
            used.add(new long[] {Json.uint64(area, "offset", "keyslot area"), Json.uint64(area, "size",
                    "keyslot area")});
        }
        used.sort((a, b) -> Long.compare(a[0], b[0]));
        long offset = h.areasStart();
        for (long[] u : used) {
            if (offset + length <= u[0]) {
                break;
            }
            offset = Math.max(offset, u[0] + u[1]);
        }
        if (offset + length > h.areasEnd()) {
            throw new LuksException(file.path + ": no space left in the LUKS2 keyslots area for a new keyslot");
        }
        return offset;
    }

    private static void sortKeys(Map<String, Object> m) {
        TreeMap<Integer, Object> sorted = new TreeMap<>();
        m.forEach((k, v) -> sorted.put(Integer.parseInt(k), v));
        m.clear();
        sorted.forEach((k, v) -> m.put(Integer.toString(k), v));
    }

    private void wipe(long offset, long length, String what) throws IOException {
        byte[] noise = randomBytes((int) length);
        file.write(noise, offset, what + " wiped");
        file.sync();
    }

    private void writeLuks1(Luks1Header updated, String what) throws IOException {
        checkUnchanged();
        file.write(updated.toBytes(), 0, what);
        file.sync();
        v1 = updated;
    }

    /** Both copies, primary first, each synced, under the next sequence number. */
    private void writeLuks2(Luks2Header updated) throws IOException {
        checkUnchanged();
        long seqid = v2.seqid + 1;
        byte[][] copies = updated.copies(seqid);
        file.write(copies[0], 0, "primary header");
        file.sync();
        file.write(copies[1], updated.hdrSize, "secondary header");
        file.sync();
        updated.seqid = seqid;
        v2 = updated;
    }

    /** Refuses to write over a header that another program changed since we read it (cryptsetup's seqid check). */
    private void checkUnchanged() throws IOException {
        byte[] now = file.read(0, v1 != null ? Luks1Header.SIZE : Luks2Header.BIN_BYTES);
        boolean same;
        if (v1 != null) {
            same = Arrays.equals(now, 0, Luks1Header.SIZE, v1.toBytes(), 0, Luks1Header.SIZE);
        } else {
            ByteBuffer b = ByteBuffer.wrap(now);
            same = Luks2Header.checkBinary(now, 0, false) != null || b.getLong(16) <= v2.seqid;
        }
        if (!same) {
            throw new LuksException(file.path + ": the LUKS header changed while loopdev was working (another "
                    + "program updated it); nothing was written");
        }
    }

    // ---- backup

    /** The bytes cryptsetup's luksHeaderBackup saves: the header copies and every keyslot area. */
    public byte[] headerBytes() throws IOException {
        long end = v1 != null ? roundUp(v1.areasEndBytes(), 4096) : v2.areasEnd();
        if (end > Integer.MAX_VALUE) {
            throw new LuksException(file.path + ": header area too large");
        }
        return file.read(0, (int) end);
    }

    /** For dumps: the parsed header of this version (package-private views). */
    Luks1Header luks1() {
        return v1;
    }

    Luks2Header luks2() {
        return v2;
    }

    static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        random().nextBytes(b);
        return b;
    }

    static long roundUp(long v, long to) {
        return (v + to - 1) / to * to;
    }

    HeaderFile file() {
        return file;
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}

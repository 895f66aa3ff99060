package dev.loopdev.luks;

import dev.loopdev.transforms.CipherSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Writes a new LUKS1 or LUKS2 header with one keyslot, laid out as cryptsetup 2.6's {@code luksFormat} lays it
 * out: LUKS2 with two 16 KiB header copies, a keyslots area up to 16 MiB and the data from there; LUKS1 with its
 * eight keyslot areas after the first 4 KiB and the data aligned to 1 MiB.
 *
 * <p>The order makes every crash leave either what was there before the new header was started, no LUKS header at
 * all, or the whole new one: the header area is zeroed and synced first (no old header can be found any more), then
 * the key material, then the header (LUKS2: the secondary copy, then the primary), each synced.
 */
public final class LuksFormat {
    static final long LUKS2_METADATA_BYTES = 0x4000;
    static final long LUKS2_DEFAULT_HEADER_BYTES = 0x1000000;
    static final long ALIGNMENT_BYTES = 1 << 20;

    /**
     * What {@code luks format} was told.
     *
     * @param version       1 or 2
     * @param cipher        the data cipher spec (aes-xts-plain64 by default)
     * @param keyBits       the volume key size (512 for XTS by default)
     * @param sectorSize    LUKS2's encryption sector size; 0 picks 4096 when the data area is a multiple of it, as
     *                      cryptsetup does for a file on a 4 KiB file system, else 512
     * @param kdf           how the first keyslot derives its key
     * @param label         the LUKS2 label, or null
     * @param uuid          the UUID, or null for a random one
     * @param offsetSectors where the data starts, in 512-byte sectors; 0 for the default
     */
    public record Options(int version, String cipher, int keyBits, int sectorSize, KdfSettings kdf, String label,
                          String uuid, long offsetSectors) {
        public Options {
            if (version != 1 && version != 2) {
                throw new LuksException("--type must be luks1 or luks2");
            }
            CipherSpec spec;
            try {
                spec = CipherSpec.parse(cipher);
            } catch (IllegalArgumentException e) {
                throw new LuksException("--cipher " + cipher + ": " + e.getMessage());
            }
            cipher = spec.toString();
            if (keyBits % 8 != 0) {
                throw new LuksException("--key-size must be a multiple of 8");
            }
            try {
                spec.checkKeyBytes(keyBits / 8);
            } catch (IllegalArgumentException e) {
                throw new LuksException("--key-size: " + e.getMessage());
            }
            if (sectorSize != 0 && (sectorSize < 512 || sectorSize > 4096 || Integer.bitCount(sectorSize) != 1)) {
                throw new LuksException("--sector-size must be 512, 1024, 2048 or 4096, not " + sectorSize);
            }
            if (version == 1 && sectorSize > 512) {
                throw new LuksException("LUKS1 encrypts 512-byte sectors only; use --type luks2 for --sector-size");
            }
            if (version == 1 && !kdf.type().equals("pbkdf2")) {
                throw new LuksException("LUKS1 keyslots use pbkdf2, not " + kdf.type());
            }
            if (label != null && version == 1) {
                throw new LuksException("LUKS1 has no label; use --type luks2");
            }
            if (uuid != null) {
                try {
                    uuid = UUID.fromString(uuid).toString();
                } catch (IllegalArgumentException e) {
                    throw new LuksException("--uuid '" + uuid + "' is not a UUID");
                }
            }
            if (offsetSectors < 0) {
                throw new LuksException("--offset must not be negative");
            }
        }

        /** cryptsetup 2.6's defaults for this version: aes-xts-plain64, 512-bit key, sha256, its PBKDF. */
        public static Options defaults(int version) {
            return new Options(version, "aes-xts-plain64", 512, 0, KdfSettings.defaults(version), null, null, 0);
        }
    }

    private LuksFormat() {
    }

    /** Where {@link #format} puts the data of a non-detached image when no --offset is given, in bytes. */
    public static long defaultDataOffset(Options o) {
        if (o.offsetSectors() > 0) {
            return o.offsetSectors() * 512;
        }
        if (o.version() == 2) {
            return LUKS2_DEFAULT_HEADER_BYTES;
        }
        long materialSectors = AfSplitter.materialBytes(o.keyBits() / 8, AfSplitter.STRIPES) / 512;
        long at = 4096 / 512;
        for (int i = 0; i < Luks1Header.SLOTS; i++) {
            at = LuksImage.roundUp(at + materialSectors, 8);
        }
        return LuksImage.roundUp(at, ALIGNMENT_BYTES / 512) * 512;
    }

    /**
     * Formats {@code header} (the image itself when {@code data} is the same file, else a detached header file,
     * created if missing) and returns the new volume key, which the caller closes.
     *
     * @param data the file whose data the segment covers: the image, or the data file of a detached header
     */
    public static VolumeKey format(Path header, Path data, Options o, byte[] passphrase) throws IOException {
        boolean detached = !header.toAbsolutePath().normalize().equals(data.toAbsolutePath().normalize());
        if (detached && !Files.exists(header)) {
            Files.createFile(header);
        }
        long dataSize = Files.size(data);
        byte[] key = LuksImage.randomBytes(o.keyBits() / 8);
        VolumeKey vk = new VolumeKey(key, -1);
        try (HeaderFile f = HeaderFile.open(header, true)) {
            if (o.version() == 1) {
                formatLuks1(f, detached, dataSize, o, key, passphrase);
            } else {
                formatLuks2(f, detached, dataSize, o, key, passphrase);
            }
            return vk;
        } catch (IOException | RuntimeException e) {
            vk.close();
            throw e;
        }
    }

    private static void formatLuks2(HeaderFile f, boolean detached, long dataSize, Options o, byte[] key,
                                    byte[] passphrase) throws IOException {
        long metadata = LUKS2_METADATA_BYTES;
        long dataOffset = o.offsetSectors() * 512;
        long keyslotsBytes;
        if (dataOffset > 0 && !detached) {
            if (dataOffset < 2 * metadata + 4096) {
                throw new LuksException("--offset " + o.offsetSectors() + " is too small: the LUKS2 header needs "
                        + (2 * metadata + 4096) / 512 + " sectors at least");
            }
            keyslotsBytes = Math.min(Luks2Header.MAX_KEYSLOTS_BYTES, (dataOffset - 2 * metadata) / 4096 * 4096);
        } else {
            keyslotsBytes = LUKS2_DEFAULT_HEADER_BYTES - 2 * metadata;
        }
        if (dataOffset == 0 && !detached) {
            dataOffset = LuksImage.roundUp(2 * metadata + keyslotsBytes, ALIGNMENT_BYTES);
        }
        long areaBytes = LuksImage.roundUp(AfSplitter.materialBytes(key.length, AfSplitter.STRIPES), 4096);
        if (areaBytes > keyslotsBytes) {
            throw new LuksException("the keyslots area (" + keyslotsBytes + " bytes) cannot hold one keyslot of "
                    + areaBytes + " bytes; give a larger --offset");
        }
        if (!detached && dataSize <= dataOffset) {
            throw new LuksException(f.path + " is too small: LUKS2 with this layout needs more than " + dataOffset
                    + " bytes (the data starts there)");
        }
        if (detached && dataSize <= dataOffset) {
            throw new LuksException("the data file (" + dataSize + " bytes) ends before --offset " + dataOffset);
        }
        int sectorSize = o.sectorSize();
        long dataBytes = dataSize - dataOffset;
        if (sectorSize == 0) {
            sectorSize = dataBytes > 0 && dataBytes % 4096 == 0 && dataOffset % 4096 == 0 ? 4096 : 512;
        } else if (dataBytes % sectorSize != 0 || dataOffset % sectorSize != 0) {
            throw new LuksException("the data area (" + dataBytes + " bytes at " + dataOffset
                    + ") is not aligned to --sector-size " + sectorSize);
        }
        String hash = o.kdf().hash();

        Luks2Header h = new Luks2Header();
        h.hdrSize = metadata;
        h.seqid = 1;
        h.label = o.label() == null ? "" : o.label();
        h.checksumAlg = "sha256";
        h.salt1 = LuksImage.randomBytes(64);
        h.salt2 = LuksImage.randomBytes(64);
        h.uuid = o.uuid() != null ? o.uuid() : UUID.randomUUID().toString();

        byte[] digestSalt = LuksImage.randomBytes(Luks2Header.SALT_BYTES);
        long digestIterations = o.kdf().digestIterations(key.length);
        byte[] digest = new Kdf.Pbkdf2(hash, digestIterations).derive(key, digestSalt, Hashes.size(hash));

        Kdf kdf = o.kdf().calibrate(key.length);
        byte[] kdfSalt = LuksImage.randomBytes(Luks2Header.SALT_BYTES);
        long areaOffset = 2 * metadata;
        byte[] derived = kdf.derive(passphrase, kdfSalt, key.length);
        byte[] split = AfSplitter.split(key, AfSplitter.STRIPES, hash, LuksImage.random());
        byte[] material = LuksImage.encrypt(o.cipher(), derived, split, 0);
        Arrays.fill(split, (byte) 0);

        Map<String, Object> root = new LinkedHashMap<>();
        Map<String, Object> keyslots = new LinkedHashMap<>();
        keyslots.put("0", Luks2Header.keyslotJson(key.length, kdf, kdfSalt, hash, areaOffset, areaBytes,
                o.cipher()));
        root.put("keyslots", keyslots);
        root.put("tokens", new LinkedHashMap<>());
        Map<String, Object> segment = new LinkedHashMap<>();
        segment.put("type", "crypt");
        segment.put("offset", Long.toString(dataOffset));
        segment.put("size", "dynamic");
        segment.put("iv_tweak", "0");
        segment.put("encryption", o.cipher());
        segment.put("sector_size", Json.Num.of(sectorSize));
        Map<String, Object> segments = new LinkedHashMap<>();
        segments.put("0", segment);
        root.put("segments", segments);
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("type", "pbkdf2");
        d.put("keyslots", new ArrayList<>(List.of("0")));
        d.put("segments", new ArrayList<>(List.of("0")));
        d.put("hash", hash);
        d.put("iterations", Json.Num.of(digestIterations));
        d.put("salt", Base64.getEncoder().encodeToString(digestSalt));
        d.put("digest", Base64.getEncoder().encodeToString(digest));
        Map<String, Object> digests = new LinkedHashMap<>();
        digests.put("0", d);
        root.put("digests", digests);
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("json_size", Long.toString(metadata - Luks2Header.BIN_BYTES));
        config.put("keyslots_size", Long.toString(keyslotsBytes));
        root.put("config", config);
        h.json = root;
        byte[][] copies = h.copies(1);

        long headerEnd = 2 * metadata + keyslotsBytes;
        zero(f, headerEnd);
        byte[] area = LuksImage.randomBytes((int) areaBytes);
        System.arraycopy(material, 0, area, 0, material.length);
        f.write(area, areaOffset, "keyslot 0 material");
        f.sync();
        f.write(copies[1], metadata, "secondary header");
        f.sync();
        f.write(copies[0], 0, "primary header");
        f.sync();
    }

    private static void formatLuks1(HeaderFile f, boolean detached, long dataSize, Options o, byte[] key,
                                    byte[] passphrase) throws IOException {
        CipherSpec spec = CipherSpec.parse(o.cipher());
        String hash = o.kdf().hash();
        Luks1Header h = new Luks1Header();
        String[] parts = spec.toString().split("-", 2);
        h.cipherName = parts[0];
        h.cipherMode = parts[1];
        h.hashSpec = hash;
        h.keyBytes = key.length;
        h.uuid = o.uuid() != null ? o.uuid() : UUID.randomUUID().toString();
        long materialSectors = AfSplitter.materialBytes(key.length, AfSplitter.STRIPES) / 512;
        long at = 4096 / 512;
        for (Luks1Header.Slot s : h.slots) {
            s.materialOffsetSectors = at;
            at = LuksImage.roundUp(at + materialSectors, 8);
        }
        if (o.offsetSectors() > 0) {
            h.payloadOffsetSectors = o.offsetSectors();
        } else {
            h.payloadOffsetSectors = detached ? 0 : LuksImage.roundUp(at, ALIGNMENT_BYTES / 512);
        }
        if (h.payloadOffsetSectors != 0 && h.payloadOffsetSectors < at) {
            throw new LuksException("--offset " + o.offsetSectors() + " is too small: the LUKS1 header and key "
                    + "slots need " + at + " sectors");
        }
        if (!detached && dataSize <= h.payloadOffsetSectors * 512) {
            throw new LuksException(f.path + " is too small: LUKS1 with this layout needs more than "
                    + h.payloadOffsetSectors * 512 + " bytes (the data starts there)");
        }
        h.mkDigestSalt = LuksImage.randomBytes(Luks1Header.SALT_BYTES);
        h.mkDigestIterations = o.kdf().digestIterations(key.length);
        h.mkDigest = new Kdf.Pbkdf2(hash, h.mkDigestIterations).derive(key, h.mkDigestSalt,
                Luks1Header.DIGEST_BYTES);

        Kdf.Pbkdf2 kdf = (Kdf.Pbkdf2) o.kdf().calibrate(key.length);
        Luks1Header.Slot slot = h.slots[0];
        slot.salt = LuksImage.randomBytes(Luks1Header.SALT_BYTES);
        slot.iterations = Math.max(KdfSettings.MIN_PBKDF2_ITERATIONS, kdf.iterations());
        byte[] derived = new Kdf.Pbkdf2(hash, slot.iterations).derive(passphrase, slot.salt, key.length);
        byte[] split = AfSplitter.split(key, AfSplitter.STRIPES, hash, LuksImage.random());
        byte[] material = LuksImage.encrypt(h.cipherSpec(), derived, split, 0);
        Arrays.fill(split, (byte) 0);
        slot.active = Luks1Header.ENABLED;
        byte[] header = h.toBytes();
        Luks1Header.parse(header, f.path.toString()); // the checks cryptsetup will make

        zero(f, at * 512);
        f.write(material, slot.materialOffsetSectors * 512, "keyslot 0 material");
        f.sync();
        f.write(header, 0, "header");
        f.sync();
    }

    /** Zeroes {@code [0, end)} of the header file, extending it if needed, and syncs: no old header remains. */
    private static void zero(HeaderFile f, long end) throws IOException {
        f.ensureSize(end);
        byte[] zeros = new byte[1 << 20];
        for (long pos = 0; pos < end; pos += zeros.length) {
            int n = (int) Math.min(zeros.length, end - pos);
            f.write(n == zeros.length ? zeros : new byte[n], pos, "header area zeroed");
        }
        f.sync();
    }
}

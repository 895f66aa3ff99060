package dev.loopdev.luks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Wrong passphrases, damaged and truncated headers, and header features loopdev does not serve: each a clear error
 * naming what is wrong (or, for one damaged LUKS2 copy, a warning and the other copy), and the image's bytes
 * unchanged.
 */
class BadImagesTest {
    private static final byte[] PASS = Cryptsetup.bytes("the passphrase");

    @TempDir
    Path dir;
    Path image;

    @BeforeEach
    void format() throws Exception {
        image = Cryptsetup.image(dir, "img", 17L << 20);
        LuksFormat.format(image, image, new LuksFormat.Options(2, "aes-xts-plain64", 512, 0,
                LoopdevImagesTest.FAST_ARGON2ID, null, null, 0), PASS).close();
    }

    @Test
    void aWrongPassphraseIsCryptsetupsOneLineAndWritesNothing() throws Exception {
        byte[] before = sha256(image);
        try (LuksImage img = LuksImage.open(image, false)) {
            LuksException e = assertThrows(LuksException.WrongPassphrase.class,
                    () -> img.unlock(Cryptsetup.bytes("not it"), -1));
            assertEquals("No key available with this passphrase.", e.getMessage());
            assertThrows(LuksException.class, () -> img.unlock(PASS, 5), "keyslot 5 is not active");
        }
        assertArrayEquals(before, sha256(image));
    }

    @Test
    void aDamagedPrimaryFallsBackToTheSecondaryWithAWarning() throws Exception {
        flipByte(image, 4096 + 100); // inside the primary's JSON area: its checksum no longer matches
        byte[] before = sha256(image);
        try (LuksImage img = LuksImage.open(image, false)) {
            assertEquals(1, img.warnings().size());
            assertTrue(img.warnings().get(0).contains("primary LUKS2 header is damaged (checksum mismatch)"),
                    img.warnings().toString());
            img.unlock(PASS, -1).close();
        }
        assertArrayEquals(before, sha256(image), "opening never writes the header area");
        assertTrue(Cryptsetup.opens(image, null, PASS, -1), "cryptsetup too uses the secondary");
    }

    @Test
    void aDestroyedPrimaryIsStillFoundByItsSecondary() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.write(new byte[4096]);
        }
        assertEquals(2, LuksImage.probe(image));
        try (LuksImage img = LuksImage.open(image, false)) {
            assertTrue(img.warnings().get(0).contains("primary"), img.warnings().toString());
            img.unlock(PASS, -1).close();
        }
    }

    @Test
    void aDamagedSecondaryIsWarnedAbout() throws Exception {
        flipByte(image, 16384 + 4096 + 10);
        try (LuksImage img = LuksImage.open(image, false)) {
            assertTrue(img.warnings().get(0).contains("secondary LUKS2 header is damaged"), img.warnings().toString());
        }
    }

    @Test
    void bothCopiesDamagedIsAnErrorNamingBoth() throws Exception {
        flipByte(image, 4096 + 100);
        flipByte(image, 16384 + 4096 + 100);
        LuksException e = assertThrows(LuksException.class, () -> LuksImage.open(image, false));
        assertTrue(e.getMessage().contains("no valid LUKS2 header (primary: checksum mismatch; secondary: "
                + "checksum mismatch)"), e.getMessage());
    }

    @Test
    void aTruncatedImageIsNamedAsSuch() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(40_000);
        }
        LuksException e = assertThrows(LuksException.class, () -> LuksImage.open(image, false));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void notLuksIsSaid() throws Exception {
        Path plain = Cryptsetup.image(dir, "plain", 1 << 20);
        assertEquals(0, LuksImage.probe(plain));
        LuksException e = assertThrows(LuksException.class, () -> LuksImage.open(plain, false));
        assertEquals(plain + " is not a LUKS device", e.getMessage());
    }

    @Test
    void aReencryptionInProgressIsRefusedByName() throws Exception {
        refused(json -> config(json).put("requirements", new LinkedHashMap<>(Map.of("mandatory",
                new ArrayList<>(List.of("online-reencrypt-v2"))))), "reencryption is in progress");
    }

    @Test
    void unknownRequirementsAreRefusedByName() throws Exception {
        refused(json -> config(json).put("requirements", new LinkedHashMap<>(Map.of("mandatory",
                new ArrayList<>(List.of("future-feature"))))), "requires future-feature");
    }

    @Test
    void integritySegmentsAreRefused() throws Exception {
        refused(json -> segment(json).put("integrity", new LinkedHashMap<>(Map.of("type", "hmac(sha256)",
                "journal_encryption", "none", "journal_integrity", "none"))), "integrity (AEAD)");
    }

    @Test
    void moreThanOneSegmentIsRefused() throws Exception {
        refused(json -> {
            Map<String, Object> second = new LinkedHashMap<>(segment(json));
            second.put("offset", "33554432");
            Json.object(json, "segments", "").put("1", second);
            segment(json).put("size", "1048576");
        }, "2 segments");
    }

    @Test
    void luks1WithBadStripesIsRefusedNamingTheKeyslot() throws Exception {
        Path v1 = Cryptsetup.image(dir, "v1", 3L << 20);
        LuksFormat.format(v1, v1, new LuksFormat.Options(1, "aes-xts-plain64", 512, 0,
                LoopdevImagesTest.FAST_PBKDF2, null, null, 0), PASS).close();
        try (RandomAccessFile f = new RandomAccessFile(v1.toFile(), "rw")) {
            f.seek(208 + 3 * 48 + 44);
            f.writeInt(3999);
        }
        LuksException e = assertThrows(LuksException.class, () -> LuksImage.open(v1, false));
        assertTrue(e.getMessage().contains("LUKS keyslot 3 is invalid"), e.getMessage());
    }

    /** Rewrites both header copies with the JSON changed (checksums right), then expects open to refuse. */
    private void refused(Consumer<Map<String, Object>> change, String expected) throws Exception {
        Luks2Header h;
        try (LuksImage img = LuksImage.open(image, false)) {
            h = img.luks2().copyForUpdate();
        }
        change.accept(h.json);
        byte[][] copies = h.copies(h.seqid + 1);
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.write(copies[0]);
            f.seek(h.hdrSize);
            f.write(copies[1]);
        }
        byte[] before = sha256(image);
        LuksException e = assertThrows(LuksException.class, () -> LuksImage.open(image, false));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertArrayEquals(before, sha256(image));
    }

    private static Map<String, Object> config(Map<String, Object> json) {
        return Json.object(json, "config", "");
    }

    private static Map<String, Object> segment(Map<String, Object> json) {
        return Json.object(Json.object(json, "segments", ""), "0", "");
    }

    static void flipByte(Path p, long at) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x5a);
        }
    }

    static byte[] sha256(Path p) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
    }
}

package dev.loopdev.luks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.LoopDevice;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * In-place conversion between a plain image and LUKS2: the result is what cryptsetup opens and what the plain
 * image held, and a run stopped at any chunk (before it, half through it, after it but before its progress record,
 * before the header or the tail) finishes when run again.
 */
class LuksInPlaceTest {
    private static final byte[] PASS = Cryptsetup.bytes("in place");
    private static final int DATA = (3 << 20) + 8192; // more than three chunks, the last one short

    @TempDir
    Path dir;

    @AfterEach
    void noCrashPoint() {
        LuksInPlace.crashPoint = (w, p) -> { };
    }

    private static LuksFormat.Options options() {
        return new LuksFormat.Options(2, "aes-xts-plain64", 512, 0, LoopdevImagesTest.FAST_ARGON2ID, null, null, 0);
    }

    private Path plainImage(byte[] data) throws Exception {
        return Files.write(dir.resolve("plain"), data);
    }

    private static byte[] data() {
        byte[] d = new byte[DATA];
        new Random(5).nextBytes(d);
        return d;
    }

    private static byte[] readDevice(Path image) throws Exception {
        try (LuksImage img = LuksImage.open(image, false); VolumeKey k = img.unlock(PASS, -1);
             LoopDevice dev = LoopDevice.open(img.loopConfig(image, k))) {
            ByteBuffer all = ByteBuffer.allocate((int) dev.size());
            dev.read(all, 0);
            return all.array();
        }
    }

    @Test
    void encryptsInPlaceIntoWhatCryptsetupOpensAndBack() throws Exception {
        byte[] data = data();
        Path image = plainImage(data);
        LuksInPlace.encrypt(image, options(), PASS, (d, t) -> assertTrue(d <= t));
        assertEquals(DATA + (16L << 20), Files.size(image), "the file grows by the header");
        assertFalse(Files.exists(LuksInPlace.journalFor(image)), "the journal is gone");
        assertTrue(Cryptsetup.opens(image, null, PASS, 0));
        assertArrayEquals(data, readDevice(image));
        LuksInPlace.decrypt(image, PASS, (d, t) -> { });
        assertArrayEquals(data, Files.readAllBytes(image), "and shrinks back to the data");
    }

    @Test
    void aSizeOfNoWholeSectorIsPaddedAndAWrongPassphraseWritesNothing() throws Exception {
        byte[] odd = Arrays.copyOf(data(), 1_000_001);
        Path image = plainImage(odd);
        LuksInPlace.encrypt(image, options(), PASS, (d, t) -> { });
        byte[] before = Files.readAllBytes(image);
        assertThrows(LuksException.WrongPassphrase.class,
                () -> LuksInPlace.decrypt(image, Cryptsetup.bytes("wrong"), (d, t) -> { }));
        assertArrayEquals(before, Files.readAllBytes(image));
        assertFalse(Files.exists(LuksInPlace.journalFor(image)));
        LuksInPlace.decrypt(image, PASS, (d, t) -> { });
        byte[] back = Files.readAllBytes(image);
        assertEquals(1_000_448, back.length, "padded to whole 512-byte sectors");
        assertArrayEquals(odd, Arrays.copyOf(back, odd.length));
    }

    @Test
    void anInterruptedEncryptionFinishesWhenRunAgain() throws Exception {
        byte[] data = data();
        Path pristine = plainImage(data);
        List<String> stops = stopEverywhere(pristine, image -> LuksInPlace.encrypt(image, options(), PASS,
                (d, t) -> { }), image -> {
                    assertTrue(Cryptsetup.opens(image, null, PASS, 0));
                    assertArrayEquals(data, readDevice(image));
                });
        assertTrue(stops.contains("header") && stops.contains("half") && stops.size() > 10, stops.toString());
    }

    @Test
    void anInterruptedDecryptionFinishesWhenRunAgain() throws Exception {
        byte[] data = data();
        Path pristine = plainImage(data);
        LuksInPlace.encrypt(pristine, options(), PASS, (d, t) -> { });
        List<String> stops = stopEverywhere(pristine, image -> LuksInPlace.decrypt(image, PASS, (d, t) -> { }),
                image -> assertArrayEquals(data, Files.readAllBytes(image)));
        assertTrue(stops.contains("tail") && stops.contains("record"), stops.toString());
    }

    interface Run {
        void on(Path image) throws Exception;
    }

    /** Runs {@code op} stopped at its k-th crash point, then again to the end, for every k; checks the result. */
    private List<String> stopEverywhere(Path pristine, Run op, Run check) throws Exception {
        Path image = dir.resolve("image");
        List<String> stops = new ArrayList<>();
        for (int k = 0; ; k++) {
            Files.copy(pristine, image, StandardCopyOption.REPLACE_EXISTING);
            Files.deleteIfExists(LuksInPlace.journalFor(image));
            int[] seen = {0};
            int target = k;
            String[] stoppedAt = {null};
            LuksInPlace.crashPoint = (what, pos) -> {
                if (seen[0]++ == target) {
                    stoppedAt[0] = what;
                    throw new CrashSafetyTest.Killed(what + " " + pos);
                }
            };
            try {
                op.on(image);
            } catch (CrashSafetyTest.Killed expected) {
                // the kill; the rerun below must finish the job
            } finally {
                LuksInPlace.crashPoint = (w, p) -> { };
            }
            if (stoppedAt[0] == null) {
                check.on(image);
                return stops;
            }
            stops.add(stoppedAt[0]);
            assertTrue(Files.exists(LuksInPlace.journalFor(image)), "a stopped run leaves its journal");
            op.on(image);
            assertFalse(Files.exists(LuksInPlace.journalFor(image)));
            check.on(image);
        }
    }
}

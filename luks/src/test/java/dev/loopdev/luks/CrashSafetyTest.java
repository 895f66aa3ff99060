package dev.loopdev.luks;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every header change stopped before each of its writes, as a SIGKILL would stop it (the writes before it are in
 * the page cache, the rest never happen), then checked with the real cryptsetup: the image opens with the old
 * passphrases or with the new ones, never with neither. Run on both LUKS versions; {@code LuksKillIT} does the same
 * with real SIGKILLs of {@code loopdev luks} processes.
 */
class CrashSafetyTest {
    private static final byte[] P0 = Cryptsetup.bytes("before the format");
    private static final byte[] P1 = Cryptsetup.bytes("old passphrase");
    private static final byte[] P2 = Cryptsetup.bytes("new passphrase");

    @TempDir
    Path dir;

    /** Stands for the SIGKILL: thrown by the crash point, caught by the test. */
    static final class Killed extends RuntimeException {
        Killed(String where) {
            super("killed before " + where);
        }
    }

    interface Op {
        void run(Path image) throws Exception;
    }

    interface Check {
        void verify(Path image, String stoppedBefore) throws Exception;

        /** What must hold once the operation ran to the end. */
        interface Done {
            void verify(Path image) throws Exception;
        }
    }

    @AfterEach
    void noCrashPoint() {
        HeaderFile.crashPoint = w -> { };
    }

    private LuksFormat.Options options(int version) {
        return new LuksFormat.Options(version, "aes-xts-plain64", 512, version == 2 ? 4096 : 0,
                version == 2 ? LoopdevImagesTest.FAST_ARGON2ID : LoopdevImagesTest.FAST_PBKDF2, null, null, 0);
    }

    private Path pristine(int version, boolean twoSlots) throws Exception {
        Path p = Cryptsetup.image(dir, "pristine", 18L << 20);
        LuksFormat.format(p, p, options(version), P1).close();
        if (twoSlots) {
            try (LuksImage img = LuksImage.open(p, true); VolumeKey k = img.unlock(P1, -1)) {
                img.addKey(k, P2, LoopdevImagesTest.FAST_PBKDF2, -1);
            }
        }
        return p;
    }

    @ParameterizedTest(name = "LUKS{0}")
    @ValueSource(ints = {1, 2})
    void addKey(int version) throws Exception {
        crashEverywhere(pristine(version, false), image -> {
            try (LuksImage img = LuksImage.open(image, true); VolumeKey k = img.unlock(P1, -1)) {
                img.addKey(k, P2, LoopdevImagesTest.FAST_PBKDF2, -1);
            }
        }, (image, at) -> assertTrue(opens(image, P1), "the old passphrase opens, " + at), image ->
                assertTrue(opens(image, P2), "the added passphrase opens"));
    }

    @ParameterizedTest(name = "LUKS{0}")
    @ValueSource(ints = {1, 2})
    void changeKey(int version) throws Exception {
        crashEverywhere(pristine(version, false), image -> {
            try (LuksImage img = LuksImage.open(image, true)) {
                img.changeKey(P1, P2, LoopdevImagesTest.FAST_PBKDF2, -1);
            }
        }, (image, at) -> assertTrue(opens(image, P1) || opens(image, P2), "old or new opens, " + at), image -> {
            assertFalse(opens(image, P1), "the old passphrase is gone");
            assertTrue(opens(image, P2), "the new passphrase opens");
        });
    }

    @ParameterizedTest(name = "LUKS{0}")
    @ValueSource(ints = {1, 2})
    void killSlot(int version) throws Exception {
        crashEverywhere(pristine(version, true), image -> {
            try (LuksImage img = LuksImage.open(image, true)) {
                img.killSlot(1, false);
            }
        }, (image, at) -> assertTrue(opens(image, P1), "the other keyslot opens, " + at), image ->
                assertFalse(opens(image, P2), "the killed keyslot no longer opens"));
    }

    /**
     * A format over an image: at every instant it is still the old image, has no LUKS header at all (the old one
     * was zeroed first), or is the complete new one; never a header that exists and opens with neither passphrase.
     */
    @ParameterizedTest(name = "LUKS{0}")
    @ValueSource(ints = {1, 2})
    void format(int version) throws Exception {
        Path before = Cryptsetup.image(dir, "before", 18L << 20);
        LuksFormat.format(before, before, options(3 - version), P0).close();
        crashEverywhere(before, image -> LuksFormat.format(image, image, options(version), P1).close(),
                (image, at) -> assertTrue(opens(image, P0) || opens(image, P1) || !isLuks(image),
                        "old, new or no LUKS header, " + at), image -> assertTrue(opens(image, P1)));
    }

    /** Runs {@code op} stopped before its first write, its second, ..., and once to the end. */
    private void crashEverywhere(Path pristine, Op op, Check afterCrash, Check.Done done) throws Exception {
        Path image = dir.resolve("image");
        List<String> stops = new ArrayList<>();
        for (int k = 0; ; k++) {
            Files.copy(pristine, image, StandardCopyOption.REPLACE_EXISTING);
            int target = k;
            int[] writes = {0};
            HeaderFile.crashPoint = w -> {
                if (writes[0]++ == target) {
                    throw new Killed(w);
                }
            };
            String stopped = null;
            try {
                op.run(image);
            } catch (Killed e) {
                stopped = e.getMessage();
            } finally {
                HeaderFile.crashPoint = w -> { };
            }
            if (stopped == null) {
                done.verify(image);
                assertTrue(stops.size() >= 2, "the operation was stopped at " + stops);
                return;
            }
            stops.add(stopped);
            afterCrash.verify(image, stopped);
        }
    }

    private static boolean opens(Path image, byte[] pass) throws Exception {
        boolean cryptsetup = Cryptsetup.opens(image, null, pass, -1);
        boolean ours;
        try (LuksImage img = LuksImage.open(image, false); VolumeKey k = img.unlock(pass, -1)) {
            ours = true;
        } catch (LuksException e) {
            ours = false;
        }
        if (cryptsetup != ours) {
            throw new AssertionError("cryptsetup says " + cryptsetup + ", loopdev says " + ours);
        }
        return cryptsetup;
    }

    private static boolean isLuks(Path image) throws Exception {
        return Cryptsetup.run(null, List.of("isLuks", image.toString())).status() == 0;
    }
}

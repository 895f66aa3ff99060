package dev.loopdev.luks;

import dev.loopdev.LoopConfig;
import dev.loopdev.transforms.KeySource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.logging.Logger;

/**
 * Opening a LUKS image as a device: whether the image has a header ({@code --luks auto|on|off}), the passphrase,
 * the unlock, and the device's window of the data file. The rules live here; the command line only binds options.
 */
public final class LuksDevices {
    private static final Logger LOG = Logger.getLogger(LuksDevices.class.getName());

    /** {@code --luks}: look for a header (auto), require one (on), or never use one (off). */
    public enum Mode {
        AUTO, ON, OFF;

        public static Mode parse(String s) {
            try {
                return valueOf(s.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--luks must be auto, on or off, not '" + s + "'");
            }
        }
    }

    private LuksDevices() {
    }

    /**
     * Whether the device over {@code image} is a LUKS device: its header is {@code header} (a detached one) or at
     * the start of the image. {@code --luks on} without a header, or {@code --header} that is not one, is an error.
     */
    public static boolean isLuks(Mode mode, Path image, Path header) throws IOException {
        if (mode == Mode.OFF) {
            if (header != null) {
                throw new IllegalArgumentException("--header needs LUKS (not --luks off)");
            }
            return false;
        }
        Path h = header != null ? header : image;
        int version = LuksImage.probe(h);
        if (version < 0) {
            throw new LuksException(h + ": unsupported LUKS version");
        }
        if (version == 0 && (mode == Mode.ON || header != null)) {
            throw new LuksException(h + " is not a LUKS device");
        }
        return version > 0;
    }

    /**
     * Refuses an image whose in-place conversion to or from LUKS2 is unfinished: half of it is moved, and serving
     * it would show neither the old image nor the new one.
     */
    public static void checkNoConversionUnderway(Path image) {
        Path journal = LuksInPlace.journalFor(image);
        if (java.nio.file.Files.exists(journal)) {
            throw new LuksException(image + ": an in-place LUKS conversion is unfinished (" + journal + "); run the "
                    + "same `loopdev encrypt|decrypt " + image + " --in-place` command again to finish it");
        }
    }

    /**
     * Unlocks the image with the passphrase from {@code key} ({@code slot} only, if not negative) and returns the
     * configuration of a device over its data segment, which owns the transform made with the volume key. Warnings
     * about the header (a damaged copy) are logged; the passphrase and the volume key are wiped.
     */
    public static LoopConfig unlock(Path image, Path header, KeySource key, int slot) throws IOException {
        Path h = header != null ? header : image;
        try (LuksImage img = LuksImage.open(h, false)) {
            for (String w : img.warnings()) {
                LOG.warning(h + ": " + w);
            }
            byte[] pass = key.passphrase("Enter passphrase for " + image + ": ", false);
            try (VolumeKey vk = img.unlock(pass, slot)) {
                LOG.info(h + ": LUKS" + img.version() + ", keyslot " + vk.slot() + " unlocked; " + img.segment().cipher()
                        + ", " + img.segment().sectorSize() + "-byte sectors");
                return img.loopConfig(image, vk);
            } finally {
                Arrays.fill(pass, (byte) 0);
            }
        }
    }
}

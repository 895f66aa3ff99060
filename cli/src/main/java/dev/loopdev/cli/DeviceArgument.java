package dev.loopdev.cli;

import dev.loopdev.nbd.kernel.KernelNbd;
import dev.loopdev.ublk.UblkDevices;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A device named on the command line, as {@code attach} and {@code detach} take it: by its name (the modules'
 * {@code DEVICE} patterns: {@code /dev/nbdN}, {@code /dev/ublkbN}, ...) or by its number {@code N} alone.
 */
final class DeviceArgument {
    private DeviceArgument() {
    }

    /** Whether {@code s} names a ublk device (/dev/ublkbN, ublkbN) rather than, say, /dev/nbdN. */
    static boolean isUblk(String s) {
        return UblkDevices.DEVICE.matcher(s.trim()).matches() && s.contains("ublk");
    }

    /** The N of an NBD device. */
    static int nbdIndex(String s) {
        return number(s, KernelNbd.DEVICE, "not an NBD device: '" + s + "' (expected /dev/nbdN)");
    }

    /** The id N of a ublk device. */
    static int ublkId(String s) {
        return number(s, UblkDevices.DEVICE, "not a ublk device: '" + s + "' (expected /dev/ublkbN)");
    }

    private static int number(String s, Pattern device, String refusal) {
        Matcher m = device.matcher(s.trim());
        if (m.matches()) {
            return Integer.parseInt(m.group(1));
        }
        if (s.trim().matches("\\d+")) {
            return Integer.parseInt(s.trim());
        }
        throw new IllegalArgumentException(refusal);
    }
}

package dev.loopdev.cli;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes on the command line, as qemu-img and coreutils read them: {@code 512}, {@code 64K}, {@code 1G} and
 * {@code 1GiB} (powers of 1024), {@code 1GB} (powers of 1000, as coreutils and disk vendors count), and fractions
 * such as {@code 1.5G} when they come to whole bytes.
 */
final class Sizes {
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(?:([KMGTPE])(IB|B)?|B)?");
    private static final String UNITS = "KMGTPE";
    private static final String HELP = "a number of bytes with an optional suffix: K, M, G, T, P, E (or KiB, MiB, ...)"
            + " for powers of 1024, KB, MB, GB, ... for powers of 1000";

    private Sizes() {
    }

    /**
     * Parses {@code value}, given as {@code option}.
     *
     * @throws IllegalArgumentException naming the option and the value, when it is not a size
     */
    static long parse(String option, String value) {
        Matcher m = SIZE.matcher(value.trim().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(option + ": '" + value + "' is not a size (" + HELP + ")");
        }
        BigInteger unit = BigInteger.ONE;
        if (m.group(2) != null) {
            int power = UNITS.indexOf(m.group(2)) + 1;
            unit = "B".equals(m.group(3)) ? BigInteger.valueOf(1000).pow(power) : BigInteger.ONE.shiftLeft(10 * power);
        }
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(new BigDecimal(unit));
        try {
            return bytes.stripTrailingZeros().toBigIntegerExact().longValueExact();
        } catch (ArithmeticException e) {
            boolean whole = bytes.stripTrailingZeros().scale() <= 0;
            throw new IllegalArgumentException(option + ": '" + value + "' is "
                    + (whole ? "too large" : "not a whole number of bytes"));
        }
    }

    /** {@code 1073741824 bytes (1 GiB)}: the exact figure, and a rounded one people read. */
    static String show(long bytes) {
        if (bytes < 1024) {
            return bytes + " bytes";
        }
        int power = (63 - Long.numberOfLeadingZeros(bytes)) / 10;
        long tenths = Math.round(bytes * 10.0 / (1L << (10 * power)));
        String rounded = tenths % 10 == 0 ? Long.toString(tenths / 10) : tenths / 10 + "." + tenths % 10;
        return bytes + " bytes (" + rounded + " " + UNITS.charAt(power - 1) + "iB)";
    }
}

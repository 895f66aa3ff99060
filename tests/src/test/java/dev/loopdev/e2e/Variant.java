package dev.loopdev.e2e;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * One point of the matrix the end-to-end tests run over: a write path and a transform.
 *
 * @param writePath {@code mapped} or {@code positional}
 * @param xor       whether the device is seen through the XOR transform (with {@link #KEY})
 */
public record Variant(String writePath, boolean xor) {
    /** 11 bytes: not a divisor of 512, so a key that wrongly restarted other than per sector would show. */
    public static final byte[] KEY = "k3y-0f-l00p".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    public static Stream<Variant> all() {
        return Stream.of(new Variant("mapped", false), new Variant("positional", false),
                new Variant("mapped", true), new Variant("positional", true));
    }

    public static Stream<Variant> writePaths() {
        return Stream.of(new Variant("mapped", false), new Variant("positional", false));
    }

    /** The serve options for this variant; the key file goes in {@code dir}. */
    public String[] options(Path dir, String... more) {
        List<String> o = new ArrayList<>(List.of("--write-path", writePath));
        if (xor) {
            o.addAll(List.of("--transform", "xor", "--key-file", Images.keyFile(dir, KEY).toString()));
        }
        o.addAll(List.of(more));
        return o.toArray(String[]::new);
    }

    /** What the backing file holds at {@code fileOffset} when the device shows {@code plain} there. */
    public byte[] raw(byte[] plain, long fileOffset) {
        return xor ? Images.xor(plain, fileOffset, KEY) : plain.clone();
    }

    /**
     * A backing file whose device reads as {@code size} zero bytes: sparse without a transform, the encoded zeros
     * (the key, sector after sector) with XOR, where a sparse file would read as the key.
     */
    public Path zeroDevice(Path dir, String name, int size) {
        if (!xor) {
            return Images.sparse(dir, name, size);
        }
        return Images.write(dir.resolve(name), raw(new byte[size], 0));
    }

    @Override
    public String toString() {
        return writePath + (xor ? "+xor" : "");
    }
}

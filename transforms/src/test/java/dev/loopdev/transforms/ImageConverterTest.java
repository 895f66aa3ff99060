package dev.loopdev.transforms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.Transform;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ImageConverterTest {
    private static final String SPEC = "aes-xts-plain64";
    private static final int OFFSET = 8192;
    private static final long IV_OFFSET = 5;

    @TempDir
    Path dir;

    private final byte[] key = InteropTest.bytes(new Random(42), 64);

    private byte[] image(Random rnd, int bytes) {
        byte[] b = InteropTest.bytes(rnd, bytes);
        Arrays.fill(b, OFFSET, OFFSET + 300_000, (byte) 0); // a run of zeros, stored as a hole below
        return b;
    }

    private ImageConverter converter(boolean encrypt, Transform t) {
        return new ImageConverter(t, encrypt, OFFSET, (done, total) -> assertTrue(done <= total));
    }

    /** The sectors from the offset to the last whole sector, per the outside oracle; the rest as it was. */
    private byte[] expected(boolean encrypt, byte[] src) throws IOException {
        int end = OFFSET + (src.length - OFFSET) / 512 * 512;
        byte[] out = src.clone();
        byte[] area = new Oracles(dir).crypt(encrypt, SPEC, key, OFFSET / 512 + IV_OFFSET,
                Arrays.copyOfRange(src, OFFSET, end));
        System.arraycopy(area, 0, out, OFFSET, area.length);
        return out;
    }

    @Test
    void copyEncryptsAndDecryptsToSparseFiles() throws Exception {
        byte[] plain = image(new Random(1), 3 * ImageConverter.CHUNK_BYTES + 777);
        Path src = Files.write(dir.resolve("plain.img"), plain);
        Path enc = dir.resolve("enc.img");
        Path dec = dir.resolve("dec.img");
        try (Transform t = Transforms.create(SPEC, key, IV_OFFSET)) {
            converter(true, t).copy(src, enc);
            assertArrayEquals(expected(true, plain), Files.readAllBytes(enc));
            converter(false, t).copy(enc, dec);
            assertThrows(java.nio.file.FileAlreadyExistsException.class, () -> converter(false, t).copy(enc, dec));
        }
        assertArrayEquals(plain, Files.readAllBytes(dec));
        assertFalse(Files.exists(dir.resolve("dec.img.part")));
        // The zero run decrypted back to zeros and was not written: dec uses fewer blocks than enc.
        assertEquals(plain.length, Files.size(dec));
        assertTrue(allocated(dec) < allocated(enc) - 200_000, allocated(dec) + " vs " + allocated(enc));
    }

    private static long allocated(Path p) throws IOException {
        String out = Oracles.run(java.util.List.of("stat", "-c", "%b %B", p.toString()), null).trim();
        String[] f = out.split(" ");
        return Long.parseLong(f[0]) * Long.parseLong(f[1]);
    }

    /** A crash anywhere, then a rerun: the image ends exactly as an uninterrupted conversion leaves it. */
    @ParameterizedTest(name = "{0} crash at {1} of chunk {2}")
    @CsvSource({"true, journal-torn, 0", "true, journal-torn, 2", "true, image, 1", "true, image-torn, 2",
        "true, image-torn, 0", "false, image-torn, 1", "false, journal-torn, 2", "false, image, 0"})
    void inPlaceResumesAfterACrash(boolean encrypt, String point, long chunk) throws Exception {
        byte[] before = image(new Random(chunk * 7 + point.length()), 3 * ImageConverter.CHUNK_BYTES + 5000);
        Path img = Files.write(dir.resolve("disk.img"), before);
        try (Transform t = Transforms.create(SPEC, key, IV_OFFSET)) {
            ImageConverter c = converter(encrypt, t);
            c.crash = (at, seq) -> {
                if (at.equals(point) && seq == chunk) {
                    throw new IOException("plug pulled");
                }
            };
            assertThrows(IOException.class, () -> c.inPlace(img, SPEC + " iv-offset=" + IV_OFFSET));
            assertTrue(Files.exists(ConversionJournal.pathFor(img)));
            converter(encrypt, t).inPlace(img, SPEC + " iv-offset=" + IV_OFFSET);
        }
        assertArrayEquals(expected(encrypt, before), Files.readAllBytes(img));
        assertFalse(Files.exists(ConversionJournal.pathFor(img)));
    }

    /** Either way, a rerun with another key is refused before it writes, and so is the other direction. */
    @ParameterizedTest(name = "encrypt {0}")
    @CsvSource({"true", "false"})
    void resumeRefusesAnotherKeyOrConversion(boolean encrypt) throws Exception {
        byte[] before = image(new Random(3), 3 * ImageConverter.CHUNK_BYTES);
        Path img = Files.write(dir.resolve("disk.img"), before);
        try (Transform t = Transforms.create(SPEC, key, IV_OFFSET)) {
            ImageConverter c = converter(encrypt, t);
            c.crash = (at, seq) -> {
                if (at.equals("image-torn") && seq == 2) {
                    throw new IOException("plug pulled");
                }
            };
            assertThrows(IOException.class, () -> c.inPlace(img, "p"));
        }
        byte[] interrupted = Files.readAllBytes(img);
        byte[] other = key.clone();
        other[0] ^= 1;
        try (Transform wrong = Transforms.create(SPEC, other, IV_OFFSET)) {
            assertThrows(IllegalArgumentException.class, () -> converter(encrypt, wrong).inPlace(img, "p"));
            assertThrows(IllegalArgumentException.class, () -> converter(!encrypt, wrong).inPlace(img, "p"));
        }
        assertArrayEquals(interrupted, Files.readAllBytes(img));
        try (Transform t = Transforms.create(SPEC, key, IV_OFFSET)) {
            converter(encrypt, t).inPlace(img, "p");
        }
        assertArrayEquals(expected(encrypt, before), Files.readAllBytes(img));
    }

    @Test
    void keepsAShortTailAndTheHeader() throws Exception {
        byte[] before = InteropTest.bytes(new Random(9), OFFSET + 1000);
        Path img = Files.write(dir.resolve("small.img"), before);
        try (Transform t = Transforms.create(SPEC, key, IV_OFFSET)) {
            converter(true, t).inPlace(img, "p");
        }
        byte[] after = Files.readAllBytes(img);
        assertArrayEquals(expected(true, before), after);
        assertArrayEquals(Arrays.copyOfRange(before, OFFSET + 512, before.length),
                Arrays.copyOfRange(after, OFFSET + 512, after.length));
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "r")) {
            assertEquals(before.length, f.length());
        }
    }
}

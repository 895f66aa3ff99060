package dev.loopdev.transforms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.Transform;
import dev.loopdev.WritePathKind;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Our transforms under a real LoopDevice on both write paths: random writes, unaligned ones included, read back
 * as a model says, and the backing file decrypts with the outside oracle to the same model, the sector numbers
 * counted from the start of the file (the offset included) plus the IV offset.
 */
class LoopDeviceTransformTest {
    private static final int OFFSET = 4096;
    private static final int DEVICE_BYTES = 256 * 1024;
    private static final long IV_OFFSET = 1000;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"aes-cbc-plain, MAPPED", "aes-cbc-plain, POSITIONAL", "aes-cbc-essiv:sha256, MAPPED",
        "aes-xts-plain64, POSITIONAL", "aes-xts-plain64, MAPPED", "serpent-cbc-plain64, POSITIONAL",
        "twofish-cbc-plain, MAPPED"})
    void randomWritesMatchModelAndOracle(String spec, WritePathKind path) throws Exception {
        Random rnd = new Random(spec.hashCode() ^ path.hashCode());
        byte[] key = InteropTest.bytes(rnd, CipherSpec.parse(spec).isXts() ? 64 : 32);
        byte[] header = InteropTest.bytes(rnd, OFFSET);
        Path file = dir.resolve("image");
        Files.write(file, header);
        try (var raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(OFFSET + DEVICE_BYTES);
        }
        // The fresh device's content is whatever the zero bytes of the file decrypt to.
        Oracles oracles = new Oracles(dir);
        long firstIv = OFFSET / 512 + IV_OFFSET;
        byte[] model = oracles.crypt(false, spec, key, firstIv, new byte[DEVICE_BYTES]);

        Transform t = Transforms.create(spec, key, IV_OFFSET);
        try (LoopDevice dev = LoopDevice.open(LoopConfig.of(file).withOffset(OFFSET).withWritePath(path)
                .withTransform(t))) {
            for (int i = 0; i < 200; i++) {
                int len = 1 + rnd.nextInt(i % 3 == 0 ? 17 : 9000);
                int pos = rnd.nextInt(DEVICE_BYTES - len);
                if (i % 5 == 0) {
                    pos &= ~511;
                    len = Math.min(DEVICE_BYTES - pos, (len + 511) & ~511);
                }
                byte[] data = InteropTest.bytes(rnd, len);
                if (i % 17 == 0) {
                    dev.writeZeroes(pos, len, false, true); // encrypted zeros, never a hole
                    Arrays.fill(data, (byte) 0);
                } else {
                    dev.write(ByteBuffer.wrap(data), pos, i % 7 == 0);
                }
                System.arraycopy(data, 0, model, pos, len);
                if (i % 20 == 0) {
                    int rlen = 1 + rnd.nextInt(5000);
                    int rpos = rnd.nextInt(DEVICE_BYTES - rlen);
                    ByteBuffer got = ByteBuffer.allocate(rlen);
                    dev.read(got, rpos);
                    assertArrayEquals(Arrays.copyOfRange(model, rpos, rpos + rlen), got.array(), "read " + i);
                }
            }
            dev.trim(0, 4096, false); // advisory with a transform: must not turn sectors into zeros
            ByteBuffer all = ByteBuffer.allocate(DEVICE_BYTES);
            dev.read(all, 0);
            assertArrayEquals(model, all.array(), "device contents");
        }
        byte[] raw = Files.readAllBytes(file);
        assertArrayEquals(header, Arrays.copyOf(raw, OFFSET), "the bytes before the offset are untouched");
        byte[] rawDevice = Arrays.copyOfRange(raw, OFFSET, raw.length);
        assertArrayEquals(model, oracles.crypt(false, spec, key, firstIv, rawDevice), "backing file per the oracle");
        assertFalse(Arrays.equals(model, rawDevice));
    }
}

package dev.loopdev.transforms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.loopdev.Transform;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * libcrypto's XTS gives the Java XTS's bytes (which the interop tests hold to dm-crypt's) for every sector size,
 * both key sizes, both IV modes, IV offsets and sector numbers up to the top of the 64-bit range, heap and direct
 * buffers in every pairing, in place and apart, and requests across the chunk size.
 */
class OpenSslXtsTest {
    private static final int[] SECTOR_SIZES = {512, 1024, 2048, 4096};

    @BeforeAll
    static void libcryptoPresent() {
        assumeTrue(LibCryptoXts.AVAILABLE, "libcrypto with XTS is not available here");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"aes-xts-plain64", "aes-xts-plain"})
    void sameBytesAsJava(String name) {
        CipherSpec spec = CipherSpec.parse(name);
        Random rnd = new Random(name.hashCode());
        for (int round = 0; round < 200; round++) {
            int sectorSize = SECTOR_SIZES[round % SECTOR_SIZES.length];
            int step = sectorSize / Transform.SECTOR_SIZE;
            byte[] key = InteropTest.bytes(rnd, rnd.nextBoolean() ? 32 : 64);
            long ivOffset = switch (round % 4) {
                case 0 -> 0;
                case 1 -> rnd.nextInt(1 << 20) - (1 << 19);
                case 2 -> rnd.nextLong();
                default -> Long.MAX_VALUE - rnd.nextInt(1000);
            };
            long sector = (round % 3 == 0 ? rnd.nextLong() : rnd.nextInt(1 << 30)) & -step;
            int sectors = 1 + rnd.nextInt(round % 10 == 0 ? 2 * SectorCipher.CHUNK_BYTES / sectorSize : 12);
            byte[] plain = InteropTest.bytes(rnd, sectors * sectorSize);
            try (Transform java = new XtsSectorCipher(spec, key, ivOffset, sectorSize);
                 Transform ossl = new OpenSslXtsSectorCipher(spec, key, ivOffset, sectorSize)) {
                byte[] raw = InteropTest.encode(java, plain, sector);
                String what = name + " key " + key.length * 8 + " sector size " + sectorSize + " sector " + sector
                        + " iv offset " + ivOffset + " sectors " + sectors;
                for (Layout layout : Layout.values()) {
                    assertArrayEquals(raw, layout.run(ossl, true, plain, sector), what + " encode " + layout);
                    assertArrayEquals(plain, layout.run(ossl, false, raw, sector), what + " decode " + layout);
                }
            }
        }
    }

    /**
     * A request's sectors in one call into libloopdev-xts.so's loop give the bytes of a call per sector from Java:
     * every sector size, IV steps, plain's 32-bit IV wrapping in the middle of a request, in place and apart.
     */
    @Test
    void loopInCMatchesACallPerSector() {
        assumeTrue(XtsSectors.LOADED, "libloopdev-xts.so is not loaded (-D" + Downcall.PROPERTY + ")");
        Random rnd = new Random(41);
        for (int round = 0; round < 100; round++) {
            int sectorSize = SECTOR_SIZES[round % SECTOR_SIZES.length];
            int ivStep = round % 2 == 0 ? sectorSize / Transform.SECTOR_SIZE : 1 + rnd.nextInt(9);
            boolean plain32 = round % 3 == 0;
            int sectors = 1 + rnd.nextInt(16);
            long first = plain32 ? 0xFFFF_FFFFL - rnd.nextInt(sectors) * (long) ivStep : rnd.nextLong();
            boolean encrypt = rnd.nextBoolean();
            boolean inPlace = round % 4 == 1;
            int n = sectors * sectorSize;
            byte[] key = InteropTest.bytes(rnd, rnd.nextBoolean() ? 32 : 64);
            byte[] input = InteropTest.bytes(rnd, n);
            LibCryptoXts.Context xts = new LibCryptoXts.Context(key, encrypt);
            try (Memory in = new Memory(n); Memory out = new Memory(n)) {
                long a = Pointer.nativeValue(in);
                long b = inPlace ? a : Pointer.nativeValue(out);
                in.write(0, input, 0, n);
                xts.eachSector(first, ivStep, plain32, a, b, n, sectorSize);
                byte[] expected = (inPlace ? in : out).getByteArray(0, n);
                in.write(0, input, 0, n);
                out.clear();
                xts.sectors(first, ivStep, plain32, a, b, n, sectorSize);
                assertArrayEquals(expected, (inPlace ? in : out).getByteArray(0, n), "sector size " + sectorSize
                        + " iv step " + ivStep + " plain32 " + plain32 + " first " + first + " sectors " + sectors);
                if (!inPlace) {
                    assertArrayEquals(input, in.getByteArray(0, n), "the source changed");
                }
            } finally {
                xts.free();
            }
        }
    }

    @Test
    void loopInCRefusesPartialSectors() {
        assumeTrue(XtsSectors.LOADED, "libloopdev-xts.so is not loaded (-D" + Downcall.PROPERTY + ")");
        assertEquals(-1, XtsSectors.sectors(0, 0, 0, 0, 0, 1000, 512, 0, 1, false), "1000 bytes of 512-byte sectors");
        assertEquals(-1, XtsSectors.sectors(0, 0, 0, 0, 0, 512, 0, 0, 1, false), "a sector size of 0");
        assertEquals(-1, XtsSectors.sectors(0, 0, 0, 0, 0, -512, 512, 0, 1, false), "a negative length");
    }

    /** Where the source and destination are: heap or direct, apart or one memory (in place), at odd offsets. */
    enum Layout {
        HEAP_HEAP, HEAP_DIRECT, DIRECT_HEAP, DIRECT_DIRECT, HEAP_IN_PLACE, DIRECT_IN_PLACE;

        byte[] run(Transform t, boolean encode, byte[] input, long sector) {
            int n = input.length;
            ByteBuffer from;
            ByteBuffer to;
            switch (this) {
                case HEAP_IN_PLACE, DIRECT_IN_PLACE -> {
                    ByteBuffer b = this == HEAP_IN_PLACE ? ByteBuffer.allocate(n + 48) : ByteBuffer.allocateDirect(n + 48);
                    b.position(16).put(input).position(16).limit(16 + n);
                    from = b;
                    to = b.duplicate();
                }
                default -> {
                    boolean fromDirect = this == DIRECT_HEAP || this == DIRECT_DIRECT;
                    boolean toDirect = this == HEAP_DIRECT || this == DIRECT_DIRECT;
                    from = (fromDirect ? ByteBuffer.allocateDirect(n + 32) : ByteBuffer.allocate(n + 32)).position(16);
                    from.put(input).position(16).limit(16 + n);
                    from = from.slice();
                    to = (toDirect ? ByteBuffer.allocateDirect(n + 64) : ByteBuffer.allocate(n + 64)).position(40);
                }
            }
            int fromStart = from.position();
            int toStart = to.position();
            if (encode) {
                t.encode(from, to, sector);
            } else {
                t.decode(from, to, sector);
            }
            assertEquals(fromStart + n, from.position());
            assertEquals(toStart + n, to.position());
            byte[] out = new byte[n];
            to.get(toStart, out);
            if (this != HEAP_IN_PLACE && this != DIRECT_IN_PLACE) {
                byte[] left = new byte[n];
                from.get(fromStart, left);
                assertArrayEquals(input, left, "the source changed");
            }
            return out;
        }
    }

    /**
     * Transforms.create picks libcrypto for AES-XTS from {@link OpenSslXtsSectorCipher#MIN_SECTOR_SIZE}, and Java
     * for a key whose halves are equal.
     */
    @Test
    void createPicksLibcryptoExceptForEqualHalves() {
        byte[] key = new byte[64];
        new Random(5).nextBytes(key);
        try (Transform t = Transforms.create("aes-xts-plain64", key, 0, 4096)) {
            assertInstanceOf(OpenSslXtsSectorCipher.class, t);
        }
        try (Transform t = Transforms.create("aes-xts-plain64", key, 0, 512)) {
            // 512-byte sectors: on libcrypto only where its call is cheap (one JNI call per request, or the
            // foreign function interface), not through a JNA call per sector
            Class<?> expected = "jna".equals(LibCryptoXts.binding()) ? XtsSectorCipher.class
                    : OpenSslXtsSectorCipher.class;
            assertInstanceOf(expected, t);
        }
        System.arraycopy(key, 0, key, 32, 32);
        assertFalse(OpenSslXtsSectorCipher.handles(CipherSpec.parse("aes-xts-plain64"), key, 4096));
        try (Transform t = Transforms.create("aes-xts-plain64", key, 0, 4096)) {
            assertInstanceOf(XtsSectorCipher.class, t);
            byte[] plain = InteropTest.bytes(new Random(6), 8192);
            assertArrayEquals(plain, InteropTest.decode(t, InteropTest.encode(t, plain, 8), 8));
        }
        try (Transform t = Transforms.create("twofish-xts-plain64", key)) {
            assertInstanceOf(XtsSectorCipher.class, t);
        }
    }

    /** libcrypto itself refuses equal halves for encryption, which is why they never reach it. */
    @Test
    void libcryptoRefusesEqualHalves() {
        byte[] key = new byte[64];
        Arrays.fill(key, (byte) 0x5a);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> new LibCryptoXts.Context(key, true));
        assertFalse(e.getMessage().contains("5a") || e.getMessage().toLowerCase().contains("5a5a"));
    }

    @Test
    void threadsShareOneTransform() throws Exception {
        byte[] key = InteropTest.bytes(new Random(8), 64);
        try (Transform t = new OpenSslXtsSectorCipher(CipherSpec.parse("aes-xts-plain64"), key, 0, 4096);
             Transform java = new XtsSectorCipher(CipherSpec.parse("aes-xts-plain64"), key, 0, 4096)) {
            Random rnd = new Random(9);
            List<byte[]> inputs = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                inputs.add(InteropTest.bytes(rnd, (1 + rnd.nextInt(40)) * 4096));
            }
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<byte[]>> got = new ArrayList<>();
                for (int k = 0; k < 8 * inputs.size(); k++) {
                    int n = k % inputs.size();
                    got.add(pool.submit(() -> InteropTest.encode(t, inputs.get(n), n * 1000L)));
                }
                for (int k = 0; k < got.size(); k++) {
                    int n = k % inputs.size();
                    assertArrayEquals(InteropTest.encode(java, inputs.get(n), n * 1000L), got.get(k).get(30, TimeUnit.SECONDS));
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void closedTransformRefusesAndClosesTwice() {
        byte[] key = InteropTest.bytes(new Random(7), 32);
        OpenSslXtsSectorCipher t = new OpenSslXtsSectorCipher(CipherSpec.parse("aes-xts-plain64"), key, 0, 512);
        assertEquals(512, InteropTest.encode(t, new byte[512], 0).length);
        ByteBuffer readOnly = ByteBuffer.allocateDirect(512).asReadOnlyBuffer();
        assertThrows(java.nio.ReadOnlyBufferException.class, () -> t.encode(ByteBuffer.allocateDirect(512), readOnly, 0));
        t.close();
        t.close();
        assertThrows(IllegalStateException.class, () -> InteropTest.encode(t, new byte[512], 0));
        assertTrue(t.name().equals("aes-xts-plain64"));
    }
}

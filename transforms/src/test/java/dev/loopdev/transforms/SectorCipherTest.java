package dev.loopdev.transforms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.loopdev.Transform;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Transform contract for the sector ciphers: in-place, direct buffers, chunk edges, threads, close. */
class SectorCipherTest {
    private static final String[] SPECS = {"aes-cbc-plain", "aes-cbc-essiv:sha256", "aes-xts-plain64",
        "twofish-cbc-plain", "serpent-cbc-plain64"};

    /** Key bytes 1, 2, 3, ...: XTS halves that differ (OpenSslXtsTest holds libcrypto's XTS to these). */
    private static Transform create(String spec) {
        byte[] key = new byte[CipherSpec.parse(spec).isXts() ? 64 : 32];
        for (int i = 0; i < key.length; i++) {
            key[i] = (byte) (i + 1);
        }
        return Transforms.create(spec, key, 0);
    }

    /** Whole-request results equal sector-by-sector ones, across the chunk size, in place and with direct buffers. */
    @ParameterizedTest
    @ValueSource(strings = {"aes-cbc-plain", "aes-cbc-essiv:sha256", "aes-xts-plain64", "twofish-cbc-plain",
        "serpent-cbc-plain64"})
    void requestsEqualSectorBySectorInPlaceAndDirect(String spec) {
        Random rnd = new Random(spec.hashCode());
        int sectors = SectorCipher.CHUNK_SECTORS * 2 + 3;
        byte[] plain = InteropTest.bytes(rnd, sectors * 512);
        long first = 77;
        try (Transform t = create(spec)) {
            byte[] whole = InteropTest.encode(t, plain, first);
            for (int s = 0; s < sectors; s++) {
                byte[] one = InteropTest.encode(t, java.util.Arrays.copyOfRange(plain, s * 512, s * 512 + 512), first + s);
                assertArrayEquals(one, java.util.Arrays.copyOfRange(whole, s * 512, s * 512 + 512), "sector " + s);
            }
            ByteBuffer direct = ByteBuffer.allocateDirect(plain.length + 1024);
            direct.position(512).put(plain).position(512).limit(512 + plain.length);
            ByteBuffer view = direct.duplicate();
            t.encode(direct, view, first); // in place: two buffers over the same memory
            assertEquals(512 + plain.length, direct.position());
            assertEquals(512 + plain.length, view.position());
            byte[] got = new byte[plain.length];
            direct.get(512, got);
            assertArrayEquals(whole, got);
            direct.position(512);
            view.position(512);
            t.decode(direct, view, first);
            direct.get(512, got);
            assertArrayEquals(plain, got);
        }
    }

    /**
     * Heap buffers are read and written through their arrays: offsets into the array are honoured, the input is
     * left as it was, and raw and plain over one array (in place) still give the sector-by-sector result. Sizes
     * cross the point where CBC encryption switches to running sectors side by side.
     */
    @ParameterizedTest
    @ValueSource(strings = {"aes-cbc-plain", "aes-cbc-essiv:sha256", "aes-xts-plain64", "serpent-cbc-plain64"})
    void heapArraysWithOffsetsInPlaceAndInputUntouched(String spec) {
        Random rnd = new Random(spec.hashCode() + 1);
        try (Transform t = create(spec)) {
            for (int sectors = 1; sectors <= CbcSectorCipher.SIDE_BY_SIDE_SECTORS + 2; sectors++) {
                byte[] plain = InteropTest.bytes(rnd, sectors * 512);
                byte[] expected = new byte[plain.length];
                for (int s = 0; s < sectors; s++) {
                    byte[] one = InteropTest.encode(t, java.util.Arrays.copyOfRange(plain, s * 512, s * 512 + 512), 9 + s);
                    System.arraycopy(one, 0, expected, s * 512, 512);
                }
                byte[] src = new byte[plain.length + 48];
                System.arraycopy(plain, 0, src, 16, plain.length);
                byte[] srcBefore = src.clone();
                byte[] dst = new byte[plain.length + 80];
                ByteBuffer from = ByteBuffer.wrap(src, 16, plain.length).slice();
                ByteBuffer to = ByteBuffer.wrap(dst, 8, plain.length + 64).slice().position(32);
                t.encode(from, to, 9);
                assertArrayEquals(srcBefore, src, "input changed, " + sectors + " sectors");
                assertArrayEquals(expected, java.util.Arrays.copyOfRange(dst, 40, 40 + plain.length), sectors + " sectors");
                assertEquals(32 + plain.length, to.position());
                assertEquals(plain.length, from.position());

                ByteBuffer same = ByteBuffer.wrap(src, 16, plain.length);
                t.encode(same, same.duplicate(), 9);
                assertArrayEquals(expected, java.util.Arrays.copyOfRange(src, 16, 16 + plain.length), "in place");
                same.position(16);
                t.decode(same, same.duplicate(), 9);
                assertArrayEquals(srcBefore, src, "in place round trip, " + sectors + " sectors");
            }
        }
    }

    @Test
    void threadsShareOneTransform() throws Exception {
        for (String spec : SPECS) {
            try (Transform t = create(spec)) {
                Random rnd = new Random(1);
                List<byte[]> inputs = new ArrayList<>();
                List<byte[]> expected = new ArrayList<>();
                for (int i = 0; i < 16; i++) {
                    byte[] p = InteropTest.bytes(rnd, (1 + rnd.nextInt(200)) * 512);
                    inputs.add(p);
                    expected.add(InteropTest.encode(t, p, i * 1000L));
                }
                ExecutorService pool = Executors.newFixedThreadPool(4);
                try {
                    List<Future<byte[]>> got = new ArrayList<>();
                    for (int round = 0; round < 8; round++) {
                        for (int i = 0; i < inputs.size(); i++) {
                            int n = i;
                            got.add(pool.submit(() -> InteropTest.encode(t, inputs.get(n), n * 1000L)));
                        }
                    }
                    for (int k = 0; k < got.size(); k++) {
                        assertArrayEquals(expected.get(k % inputs.size()), got.get(k).get(30, TimeUnit.SECONDS), spec);
                    }
                } finally {
                    pool.shutdownNow();
                }
            }
        }
    }

    @Test
    void refusesPartialSectorsBadKeysAndUseAfterClose() {
        Transform t = create("aes-cbc-plain");
        assertThrows(IllegalArgumentException.class, () -> t.encode(ByteBuffer.allocate(100), ByteBuffer.allocate(100), 0));
        t.close();
        assertThrows(IllegalStateException.class, () -> t.encode(ByteBuffer.allocate(512), ByteBuffer.allocate(512), 0));
        assertThrows(IllegalArgumentException.class, () -> Transforms.create("aes-xts-plain64", new byte[16]));
        assertThrows(IllegalArgumentException.class, () -> Transforms.create("aes-cbc-plain", new byte[64]));
        assertThrows(IllegalArgumentException.class, () -> Transforms.create("aes-ecb-plain", new byte[16]));
        assertThrows(IllegalArgumentException.class, () -> Transforms.create("aes-xts-essiv:sha256", new byte[32]));
        assertEquals("aes-xts-plain64", create("AES-XTS-PLAIN64").name());
    }
}

package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract every device configuration must keep, run over {mapped, positional} x transforms x {tiny pages,
 * 4096}: seeded random operation sequences checked against an in-memory model (including unaligned and one-byte
 * requests), the backing file checked independently by decoding it, and concurrency that must never tear a sector.
 *
 * <p>Modules that add transforms extend this class and override {@link #transforms()}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class LoopDeviceContract {
    /** Tiny pages and windows put many page and window boundaries inside small devices. */
    private static final int TINY_PAGE = 512;
    private static final long TINY_WINDOW = 8192;
    /** Room for two tiny windows: most of a device is then read and written positionally, next to mapped pages. */
    private static final long TINY_BUDGET = 2 * TINY_WINDOW;

    @TempDir
    Path dir;

    /** Named transform factories; each call makes a fresh instance (devices close, and wipe, theirs). */
    protected abstract List<NamedTransform> transforms();

    public record NamedTransform(String name, Supplier<Transform> factory) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** One configuration of the matrix. */
    public record Case(WritePathKind path, NamedTransform transform, int pageSize, long windowBytes,
                       long budgetBytes) {
        Case(WritePathKind path, NamedTransform transform, int pageSize, long windowBytes) {
            this(path, transform, pageSize, windowBytes, MappedPages.DEFAULT_BUDGET_BYTES);
        }

        @Override
        public String toString() {
            return path.name().toLowerCase() + "/" + transform + "/page" + pageSize
                    + (budgetBytes < MappedPages.DEFAULT_BUDGET_BYTES ? "/" + budgetBytes / windowBytes + "windows" : "");
        }

        LoopDevice open(LoopConfig config) throws IOException {
            return LoopDevice.open(config.withWritePath(path).withTransform(transform.factory().get()), pageSize,
                    windowBytes, budgetBytes);
        }
    }

    Stream<Arguments> cases() {
        List<Arguments> all = new ArrayList<>();
        for (WritePathKind p : List.of(WritePathKind.MAPPED, WritePathKind.POSITIONAL)) {
            for (NamedTransform t : transforms()) {
                all.add(Arguments.of(new Case(p, t, TINY_PAGE, TINY_WINDOW)));
                all.add(Arguments.of(new Case(p, t, MappedPages.DEFAULT_PAGE_SIZE, 64 * 1024)));
                if (p == WritePathKind.MAPPED) {
                    all.add(Arguments.of(new Case(p, t, TINY_PAGE, TINY_WINDOW, TINY_BUDGET)));
                }
            }
        }
        return all.stream();
    }

    private Path image(long size) throws IOException {
        Path f = Files.createTempFile(dir, "image", ".img");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
        }
        return f;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void randomOperationsMatchTheModel(Case c) throws IOException {
        for (long seed = 1; seed <= 3; seed++) {
            runRandomOperations(c, seed, 300);
        }
    }

    private void runRandomOperations(Case c, long seed, int operations) throws IOException {
        Random rnd = new Random(seed);
        long fileSize = 256 * 1024;
        Transform probe = c.transform.factory().get();
        int offset = probe.isIdentity() ? rnd.nextInt(3) * 4096 + (rnd.nextBoolean() ? 0 : 1000)
                : rnd.nextInt(5) * probe.sectorSize();
        probe.close();
        long deviceSize = 128 * 1024;
        Path f = image(fileSize);
        byte[] model = new byte[(int) deviceSize];
        byte[] outside = Files.readAllBytes(f);
        LoopConfig cfg = LoopConfig.of(f).withOffset(offset).withSizeLimit(deviceSize);
        LoopDevice dev = c.open(cfg);
        // A fresh, all-zero image decodes to whatever the transform makes of zeros; write zeros to pin it down.
        dev.write(ByteBuffer.wrap(new byte[(int) deviceSize]), 0, false);
        try {
            assertEquals(deviceSize, dev.size());
            for (int i = 0; i < operations; i++) {
                int op = rnd.nextInt(100);
                int pos = rnd.nextInt((int) deviceSize);
                int len = switch (rnd.nextInt(4)) {
                    case 0 -> 1;
                    case 1 -> rnd.nextInt(600);
                    case 2 -> rnd.nextInt(20000);
                    default -> (rnd.nextInt(8) + 1) * 512;
                };
                len = (int) Math.min(len, deviceSize - pos);
                String what = "seed " + seed + " op " + i;
                if (op < 45) {
                    byte[] data = new byte[len];
                    rnd.nextBytes(data);
                    ByteBuffer src = rnd.nextBoolean() ? ByteBuffer.wrap(data) : direct(data);
                    dev.write(src, pos, rnd.nextInt(10) == 0);
                    assertEquals(0, src.remaining(), what + ": write consumes its buffer");
                    System.arraycopy(data, 0, model, pos, len);
                } else if (op < 80) {
                    ByteBuffer dst = rnd.nextBoolean() ? ByteBuffer.allocate(len) : ByteBuffer.allocateDirect(len);
                    dev.read(dst, pos);
                    assertEquals(0, dst.remaining(), what + ": read fills its buffer");
                    assertArrayEquals(Arrays.copyOfRange(model, pos, pos + len), bytes(dst.flip()), what);
                } else if (op < 87) {
                    dev.writeZeroes(pos, len, rnd.nextBoolean(), rnd.nextBoolean());
                    Arrays.fill(model, pos, pos + len, (byte) 0);
                } else if (op < 92) {
                    dev.trim(pos, len, false);
                    if (dev.canTrim()) {
                        Arrays.fill(model, pos, pos + len, (byte) 0); // a punched hole reads as zeros
                    }
                } else if (op < 97) {
                    dev.flush();
                } else {
                    dev.close();
                    dev = c.open(cfg);
                }
            }
            ByteBuffer all = ByteBuffer.allocate((int) deviceSize);
            dev.read(all, 0);
            assertArrayEquals(model, all.array(), "whole device, seed " + seed);
        } finally {
            dev.close();
        }
        byte[] file = Files.readAllBytes(f);
        assertEquals(fileSize, file.length, "the backing file keeps its size");
        assertArrayEquals(model, decode(c, file, offset, deviceSize), "the backing file decodes to the model");
        Arrays.fill(file, offset, (int) (offset + deviceSize), (byte) 0);
        Arrays.fill(outside, offset, (int) (offset + deviceSize), (byte) 0);
        assertArrayEquals(outside, file, "nothing outside the device's window changed");
    }

    /** Decodes the device's window of the raw file with a fresh transform instance: an independent check. */
    private static byte[] decode(Case c, byte[] file, int offset, long deviceSize) {
        try (Transform t = c.transform.factory().get()) {
            ByteBuffer raw = ByteBuffer.wrap(file, offset, (int) deviceSize).slice();
            ByteBuffer plain = ByteBuffer.allocate((int) deviceSize);
            t.decode(raw, plain, offset / Transform.SECTOR_SIZE);
            return plain.array();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void oneByteAtATime(Case c) throws IOException {
        Path f = image(16 * 1024);
        byte[] expected = new byte[3000];
        new Random(7).nextBytes(expected);
        try (LoopDevice dev = c.open(LoopConfig.of(f))) {
            dev.writeZeroes(0, dev.size(), false, false);
            for (int i = 0; i < expected.length; i++) {
                dev.write(ByteBuffer.wrap(expected, i, 1), 700 + i, false);
            }
            for (int i = 0; i < expected.length; i += 97) {
                ByteBuffer one = ByteBuffer.allocate(1);
                dev.read(one, 700 + i);
                assertEquals(expected[i], one.get(0), "byte " + i);
            }
            ByteBuffer all = ByteBuffer.allocate(expected.length);
            dev.read(all, 700);
            assertArrayEquals(expected, all.array());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void concurrentOverlappingWritesNeverTearASector(Case c) throws Exception {
        int sectors = 64;
        Path f = image(sectors * 512L);
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try (LoopDevice dev = c.open(LoopConfig.of(f))) {
            dev.writeZeroes(0, dev.size(), false, false); // raw zeros need not decode to a uniform sector
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                done.add(pool.submit(() -> {
                    Random rnd = new Random(100 + id);
                    for (int i = 0; i < 300; i++) {
                        // Every write covers whole sectors filled with one value, so a sector holding two values
                        // was torn. Unaligned starts exercise the read-modify-write path too.
                        int first = rnd.nextInt(sectors);
                        int count = 1 + rnd.nextInt(Math.min(8, sectors - first));
                        byte v = (byte) (1 + id * 50 + i % 50);
                        byte[] data = new byte[count * 512];
                        Arrays.fill(data, v);
                        dev.write(ByteBuffer.wrap(data), first * 512L, false);
                        if (rnd.nextInt(4) == 0) {
                            ByteBuffer r = ByteBuffer.allocate(512);
                            dev.read(r, rnd.nextInt(sectors) * 512L);
                            assertUniform(r.array(), "concurrent read");
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> fu : done) {
                fu.get(60, TimeUnit.SECONDS);
            }
            ByteBuffer all = ByteBuffer.allocate(sectors * 512);
            dev.read(all, 0);
            for (int s = 0; s < sectors; s++) {
                assertUniform(Arrays.copyOfRange(all.array(), s * 512, s * 512 + 512), "sector " + s);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Flushes (and FUA writes) write pages back and, on the mapped path, drop their page-table entries while other
     * threads go on writing into the same pages: every write's last value must be on the device and in the file.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void writesRacingFlushesAreAllKept(Case c) throws Exception {
        int threads = 3;
        int slice = 24 * 1024; // each writer owns a slice; slices share pages and windows at their edges
        Path f = image((long) threads * slice + 4096);
        ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
        byte[] expected = new byte[threads * slice];
        LoopDevice dev = c.open(LoopConfig.of(f));
        try {
            dev.writeZeroes(0, dev.size(), false, false);
            // The flusher goes first, so that it runs alongside the writers however the threads are scheduled.
            java.util.concurrent.atomic.AtomicBoolean writing = new java.util.concurrent.atomic.AtomicBoolean(true);
            java.util.concurrent.CountDownLatch flushing = new java.util.concurrent.CountDownLatch(1);
            Future<Integer> flusher = pool.submit(() -> {
                int flushes = 0;
                do {
                    dev.flush();
                    flushes++;
                    flushing.countDown();
                } while (writing.get());
                return flushes;
            });
            assertTrue(flushing.await(60, TimeUnit.SECONDS), "the flusher started");
            List<Future<?>> writers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                writers.add(pool.submit(() -> {
                    Random rnd = new Random(200 + id);
                    byte[] mine = new byte[slice];
                    for (int i = 0; i < 400; i++) {
                        int at = rnd.nextInt(slice);
                        int len = 1 + rnd.nextInt(Math.min(3000, slice - at));
                        byte[] data = new byte[len];
                        rnd.nextBytes(data);
                        dev.write(ByteBuffer.wrap(data), (long) id * slice + at, rnd.nextInt(8) == 0);
                        System.arraycopy(data, 0, mine, at, len);
                    }
                    System.arraycopy(mine, 0, expected, id * slice, slice);
                    return null;
                }));
            }
            for (Future<?> w : writers) {
                w.get(60, TimeUnit.SECONDS);
            }
            writing.set(false);
            assertTrue(flusher.get(60, TimeUnit.SECONDS) > 0, "the flusher ran alongside the writers");
            ByteBuffer all = ByteBuffer.allocate(expected.length);
            dev.read(all, 0);
            assertArrayEquals(expected, all.array(), "the device holds every write's last value");
            dev.flush();
            byte[] file = Files.readAllBytes(f); // read(2) through the page cache, the device still attached
            assertArrayEquals(expected, decode(c, file, 0, expected.length), "the file holds them once flushed");
        } finally {
            dev.close();
            pool.shutdownNow();
        }
        assertArrayEquals(expected, decode(c, Files.readAllBytes(f), 0, expected.length), "and after detach");
    }

    private static void assertUniform(byte[] sector, String what) {
        for (byte b : sector) {
            assertEquals(sector[0], b, what + " is torn");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void fourKiBlocksAndSizeRounding(Case c) throws IOException {
        Path f = image(3 * 4096 + 1000);
        try (LoopDevice dev = c.open(LoopConfig.of(f).withBlockSize(4096))) {
            assertEquals(4096, dev.blockSize());
            assertEquals(3 * 4096, dev.size(), "the size is counted in whole logical blocks");
            byte[] data = new byte[4096];
            new Random(3).nextBytes(data);
            dev.write(ByteBuffer.wrap(data), 8192, true);
            ByteBuffer back = ByteBuffer.allocate(4096);
            dev.read(back, 8192);
            assertArrayEquals(data, back.array());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void readOnlyRefusesEveryWriteAndChangesNothing(Case c) throws IOException {
        Path f = image(64 * 1024);
        byte[] before = new byte[64 * 1024];
        new Random(5).nextBytes(before);
        Files.write(f, before);
        var mtime = Files.getLastModifiedTime(f);
        try (LoopDevice dev = c.open(LoopConfig.of(f).withReadOnly(true))) {
            assertTrue(dev.isReadOnly());
            BlockDeviceException e = assertThrows(BlockDeviceException.class,
                    () -> dev.write(ByteBuffer.allocate(512), 0, false));
            assertEquals(Errno.EPERM, e.errno());
            assertEquals(Errno.EPERM, assertThrows(BlockDeviceException.class,
                    () -> dev.writeZeroes(0, 512, false, true)).errno());
            assertEquals(Errno.EPERM, assertThrows(BlockDeviceException.class,
                    () -> dev.trim(0, 512, false)).errno());
            assertEquals(Errno.EPERM, assertThrows(BlockDeviceException.class,
                    () -> dev.lendForWrite(0, 512)).errno());
            dev.flush();
            ByteBuffer r = ByteBuffer.allocate(100);
            dev.read(r, 0);
        }
        assertArrayEquals(before, Files.readAllBytes(f));
        assertEquals(mtime, Files.getLastModifiedTime(f));
    }

    /** Closed comes before read-only: a request to a closed device is ESHUTDOWN, lent pages included. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void aClosedDeviceLendsNothing(Case c) throws IOException {
        Path f = image(64 * 1024);
        LoopDevice dev = c.open(LoopConfig.of(f).withReadOnly(true));
        dev.close();
        assertEquals(Errno.ESHUTDOWN, assertThrows(BlockDeviceException.class,
                () -> dev.lendForRead(0, 4096)).errno());
        assertEquals(Errno.ESHUTDOWN, assertThrows(BlockDeviceException.class,
                () -> dev.lendForWrite(0, 4096)).errno());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void aBackingFileThatShrinksGivesEioNotACrash(Case c) throws IOException {
        Path f = image(256 * 1024);
        try (LoopDevice dev = c.open(LoopConfig.of(f))) {
            dev.write(ByteBuffer.wrap(new byte[128 * 1024]), 0, false);
            dev.read(ByteBuffer.allocate(4096), 200 * 1024); // map the far window while the file is whole
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(64 * 1024);
            }
            BlockDeviceException e = assertThrows(BlockDeviceException.class,
                    () -> dev.read(ByteBuffer.allocate(4096), 200 * 1024));
            assertEquals(Errno.EIO, e.errno());
            BlockDeviceException w = assertThrows(BlockDeviceException.class,
                    () -> dev.write(ByteBuffer.allocate(4096), 200 * 1024, false));
            assertEquals(Errno.EIO, w.errno());
            assertEquals(64 * 1024, Files.size(f), "a write past the new end does not grow the file back");
            // Below the new end the device still works.
            ByteBuffer r = ByteBuffer.allocate(4096);
            dev.read(r, 0);
        }
    }

    static ByteBuffer direct(byte[] data) {
        ByteBuffer b = ByteBuffer.allocateDirect(data.length);
        b.put(data).flip();
        return b;
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}

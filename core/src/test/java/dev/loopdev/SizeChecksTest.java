package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The check that the backing file still reaches a request's range ({@link SizeCheck}): once per request, or once
 * per arrival of requests when the frontend reports arrivals ({@link BlockDevice#arrived}). Either way, a file shrunk before a
 * request arrived is EIO for that request, and a write past the new end does not grow the file back.
 */
class SizeChecksTest {
    private static final int MiB = 1 << 20;

    @TempDir
    Path dir;

    private Path image(long size) throws IOException {
        Path img = dir.resolve("disk.img");
        setLength(img, size);
        return img;
    }

    /** Truncates or extends, as another process would. */
    private static void setLength(Path img, long size) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(img.toFile(), "rw")) {
            raf.setLength(size);
        }
    }

    @ParameterizedTest
    @EnumSource(value = WritePathKind.class, names = {"MAPPED", "POSITIONAL"})
    void withoutArrivalsEveryRequestSeesATruncation(WritePathKind kind) throws IOException {
        Path img = image(4 * MiB);
        try (LoopDevice dev = LoopDevice.open(LoopConfig.of(img).withWritePath(kind))) {
            dev.write(ByteBuffer.allocate(4096), 3 * MiB, false);
            setLength(img, 2 * MiB);
            BlockDeviceException e = assertThrows(BlockDeviceException.class,
                    () -> dev.write(ByteBuffer.allocate(4096), 3 * MiB, false));
            assertEquals(Errno.EIO, e.errno());
            assertThrows(BlockDeviceException.class, () -> dev.read(ByteBuffer.allocate(4096), 3 * MiB));
            assertEquals(2 * MiB, Files.size(img), "a write past the new end grew the file");
        }
    }

    @ParameterizedTest
    @EnumSource(value = WritePathKind.class, names = {"MAPPED", "POSITIONAL"})
    void aTruncationBeforeAnArrivalIsSeenByItsRequests(WritePathKind kind) throws IOException {
        Path img = image(4 * MiB);
        try (LoopDevice dev = LoopDevice.open(LoopConfig.of(img).withWritePath(kind))) {
            dev.arrived();
            dev.write(ByteBuffer.allocate(4096), 3 * MiB, false);
            dev.read(ByteBuffer.allocate(4096), 3 * MiB);
            setLength(img, 2 * MiB);
            dev.arrived();
            BlockDeviceException e = assertThrows(BlockDeviceException.class,
                    () -> dev.write(ByteBuffer.allocate(4096), 3 * MiB, false));
            assertEquals(Errno.EIO, e.errno());
            assertTrue(e.getMessage().contains("shrank"), e.getMessage());
            assertThrows(BlockDeviceException.class, () -> dev.read(ByteBuffer.allocate(4096), 3 * MiB));
            dev.write(ByteBuffer.allocate(4096), MiB, false); // before the new end: served as before
            assertEquals(2 * MiB, Files.size(img), "a write past the new end grew the file");
        }
    }

    /** The point of arrivals: between two, the size is read once, however many requests check it. */
    @Test
    void betweenArrivalsTheSizeIsReadOnce() throws IOException {
        Path img = image(4 * MiB);
        try (BackingFile file = BackingFile.open(img, false)) {
            file.arrived();
            file.checkSpans(3 * MiB, 4096);
            setLength(img, 2 * MiB);
            assertDoesNotThrow(() -> file.checkSpans(3 * MiB, 4096), "the size read for this arrival");
            file.arrived();
            assertThrows(BlockDeviceException.class, () -> file.checkSpans(3 * MiB, 4096));
        }
    }

    @Test
    void withoutArrivalsEveryCallReadsTheSize() throws IOException {
        AtomicLong reads = new AtomicLong();
        SizeCheck check = new SizeCheck(() -> reads.incrementAndGet() * MiB);
        assertEquals(MiB, check.size());
        assertEquals(2 * MiB, check.size());
        check.arrived();
        assertEquals(3 * MiB, check.size());
        assertEquals(3 * MiB, check.size(), "the same arrival");
        assertEquals(3, reads.get());
    }

    /**
     * A read of the size that started before a truncation and an arrival, and is stored after both, must not
     * serve a check that follows the arrival: the stored size is marked with the arrival its read started at.
     */
    @Test
    void aSizeReadBeforeAnArrivalNeverServesAfterIt() throws Exception {
        AtomicLong fileSize = new AtomicLong(4 * MiB);
        CountDownLatch inRead = new CountDownLatch(1);
        CountDownLatch truncated = new CountDownLatch(1);
        Thread main = Thread.currentThread();
        SizeCheck check = new SizeCheck(() -> {
            long size = fileSize.get();
            if (Thread.currentThread() != main) { // the other thread: its fstat saw the old size, and lingers
                inRead.countDown();
                await(truncated);
            }
            return size;
        });
        check.arrived();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread reader = new Thread(() -> {
            try {
                assertEquals(4 * MiB, check.size());
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        reader.start();
        await(inRead);
        fileSize.set(2 * MiB); // truncated, then a request arrives, while the old size is still on its way
        check.arrived();
        truncated.countDown();
        reader.join();
        assertNull(failure.get());
        assertEquals(2 * MiB, check.size(), "a size read before the arrival served a request after it");
    }

    private static void await(CountDownLatch latch) {
        try {
            assertTrue(latch.await(10, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}

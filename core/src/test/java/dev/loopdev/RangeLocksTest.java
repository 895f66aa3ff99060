package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/** Exact ranges: only overlapping requests wait, reads share, and conflicting requests are served in order. */
class RangeLocksTest {
    private final RangeLocks locks = new RangeLocks();
    /** Threads of their own: the common pool may have a single one, which a waiting request would block. */
    private final java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newCachedThreadPool();

    @org.junit.jupiter.api.AfterEach
    void stopThreads() {
        threads.shutdownNow();
    }

    private CompletableFuture<RangeLocks.Held> async(java.util.function.Supplier<RangeLocks.Held> take) {
        return CompletableFuture.supplyAsync(take, threads);
    }

    @Test
    void aWriteHoldsOnlyItsOwnBytes() throws Exception {
        RangeLocks.Held w = locks.write(65536, 4096);
        // Anything not overlapping, however close or far (striped locks once made [0, 64 KiB) and
        // [256 MiB, +64 KiB) share a lock), goes ahead.
        for (long at : new long[] {0, 65536 - 1, 65536 + 4096, 65536 + (256L << 20), 1L << 40}) {
            locks.write(at, 1).close();
        }
        CompletableFuture<RangeLocks.Held> overlapping = async(() -> locks.read(65536 + 4095, 10));
        assertThrows(TimeoutException.class, () -> overlapping.get(200, TimeUnit.MILLISECONDS));
        w.close();
        overlapping.get(5, TimeUnit.SECONDS).close();
    }

    @Test
    void readsShareAndAWriteWaitsForThemAll() throws Exception {
        RangeLocks.Held r1 = locks.read(0, 8192);
        RangeLocks.Held r2 = locks.read(4096, 8192);
        CompletableFuture<RangeLocks.Held> w = async(() -> locks.write(6000, 100));
        assertThrows(TimeoutException.class, () -> w.get(200, TimeUnit.MILLISECONDS));
        r1.close();
        assertThrows(TimeoutException.class, () -> w.get(200, TimeUnit.MILLISECONDS));
        r2.close();
        w.get(5, TimeUnit.SECONDS).close();
    }

    @Test
    void aWaitingWriteIsNotOvertakenByLaterReads() throws Exception {
        RangeLocks.Held r1 = locks.read(0, 4096);
        CompletableFuture<RangeLocks.Held> w = async(() -> locks.write(0, 4096));
        Thread.sleep(100); // the write queues behind r1
        CountDownLatch readStarted = new CountDownLatch(1);
        CompletableFuture<RangeLocks.Held> r2 = async(() -> {
            readStarted.countDown();
            return locks.read(0, 4096);
        });
        readStarted.await();
        assertThrows(TimeoutException.class, () -> r2.get(200, TimeUnit.MILLISECONDS),
                "a read that conflicts with a waiting write waits behind it");
        r1.close();
        RangeLocks.Held held = w.get(5, TimeUnit.SECONDS);
        assertFalse(r2.isDone());
        held.close();
        r2.get(5, TimeUnit.SECONDS).close();
    }

    @Test
    void releasingTwiceIsABug() {
        RangeLocks.Held h = locks.write(0, 1);
        h.close();
        assertThrows(IllegalStateException.class, h::close);
    }
}

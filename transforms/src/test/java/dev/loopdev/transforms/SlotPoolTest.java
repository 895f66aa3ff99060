package dev.loopdev.transforms;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class SlotPoolTest {
    /** A context that knows whether it was freed, and how often. */
    static final class Ctx {
        final AtomicInteger frees = new AtomicInteger();
    }

    private final List<Ctx> made = new ArrayList<>();

    private SlotPool<Ctx> pool() {
        return new SlotPool<>("aes-test", () -> {
            Ctx c = new Ctx();
            synchronized (made) {
                made.add(c);
            }
            return c;
        }, c -> c.frees.incrementAndGet());
    }

    @Test
    void aThreadFindsItsContextAgain() {
        SlotPool<Ctx> p = pool();
        Ctx c = p.take();
        p.give(c);
        assertSame(c, p.take());
        assertEquals(1, made.size());
    }

    @Test
    void contextsBeyondTheSlotsAreFreedWhenGivenBack() {
        SlotPool<Ctx> p = pool();
        List<Ctx> busy = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            busy.add(p.take());
        }
        busy.forEach(p::give);
        assertEquals(20, made.size());
        assertEquals(4, made.stream().filter(c -> c.frees.get() == 1).count(), "16 slots keep 16, 4 freed");
    }

    @Test
    void closeFreesIdleContextsAndBusyOnesWhenTheyComeBack() {
        SlotPool<Ctx> p = pool();
        Ctx idle = p.take();
        Ctx busy = p.take();
        p.give(idle);
        p.close();
        assertEquals(1, idle.frees.get());
        assertEquals(0, busy.frees.get(), "a busy context is never freed under its call");
        p.give(busy);
        assertEquals(1, busy.frees.get());
        IllegalStateException e = assertThrows(IllegalStateException.class, p::take);
        assertTrue(e.getMessage().contains("aes-test"), e.getMessage());
        p.close();
        assertEquals(1, idle.frees.get(), "freed once");
    }

    @Test
    void aContextMadeWhileClosingIsFreedAndRefused() {
        AtomicReference<SlotPool<Ctx>> self = new AtomicReference<>();
        Ctx[] madeOne = new Ctx[1];
        SlotPool<Ctx> p = new SlotPool<>("aes-test", () -> {
            self.get().close(); // close() runs while the context is being made
            return madeOne[0] = new Ctx();
        }, c -> c.frees.incrementAndGet());
        self.set(p);
        assertThrows(IllegalStateException.class, p::take);
        assertEquals(1, madeOne[0].frees.get());
    }

    /** Threads take and give while another closes: every context is freed exactly once, none while in use. */
    @Test
    void closeRacingTakesAndGivesFreesEachContextOnce() throws Exception {
        for (int round = 0; round < 50; round++) {
            Set<Ctx> inUse = ConcurrentHashMap.newKeySet();
            List<Ctx> all = java.util.Collections.synchronizedList(new ArrayList<>());
            AtomicInteger freedInUse = new AtomicInteger();
            SlotPool<Ctx> p = new SlotPool<>("aes-test", () -> {
                Ctx c = new Ctx();
                all.add(c);
                return c;
            }, c -> {
                if (inUse.contains(c)) {
                    freedInUse.incrementAndGet();
                }
                c.frees.incrementAndGet();
            });
            p.give(p.take()); // one context exists whenever the close lands, even before any thread's first take
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                threads.add(new Thread(() -> {
                    try {
                        for (int i = 0; i < 2000; i++) {
                            Ctx c = p.take();
                            inUse.add(c);
                            inUse.remove(c);
                            p.give(c);
                        }
                    } catch (IllegalStateException closed) {
                        // the pool closed under this thread: expected
                    }
                }));
            }
            threads.forEach(Thread::start);
            Thread.sleep(round % 3);
            p.close();
            for (Thread t : threads) {
                t.join();
            }
            assertEquals(0, freedInUse.get(), "a context was freed while in use");
            for (Ctx c : all) {
                assertEquals(1, c.frees.get(), "each context is freed exactly once");
            }
            assertFalse(all.isEmpty());
        }
    }
}

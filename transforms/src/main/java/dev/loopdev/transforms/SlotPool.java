package dev.loopdev.transforms;

import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The cipher transforms' pool of per-thread contexts (engines, native cipher contexts, scratch): a fixed array of
 * slots, each taken with one atomic swap and refilled with one CAS, starting at a slot chosen by the thread's id.
 * No allocation and, while there are fewer busy threads than slots, almost no contention (a queue allocated a node
 * per call and made every thread meet at its head). A context that finds every slot full is freed.
 *
 * <p>{@link #close()} frees the idle contexts; a busy one is freed by the thread that gives it back, so a call
 * never finds its context freed under it, and {@code close} and {@link #give} never both free one.
 */
final class SlotPool<C> implements AutoCloseable {
    /** More than the NBD server's default workers (8), so each thread usually finds its own context again. */
    private static final int SLOTS = 16;

    private final AtomicReferenceArray<C> idle = new AtomicReferenceArray<>(SLOTS);
    private final Supplier<C> make;
    private final Consumer<C> free;
    private final String name;
    private volatile boolean closed;

    /** {@code name} is the transform's, for the error a call after close gets. */
    SlotPool(String name, Supplier<C> make, Consumer<C> free) {
        this.name = name;
        this.make = make;
        this.free = free;
    }

    /** An idle context, or a new one; give it back when done. */
    C take() {
        if (closed) {
            throw new IllegalStateException(name + ": the transform is closed");
        }
        int home = homeSlot();
        for (int i = 0; i < SLOTS; i++) {
            int slot = (home + i) & (SLOTS - 1);
            if (idle.getPlain(slot) != null) {
                C c = idle.getAndSet(slot, null);
                if (c != null) {
                    return c;
                }
            }
        }
        C c = make.get();
        if (closed) { // close() ran while it was made, perhaps from key bytes it was wiping
            free.accept(c);
            throw new IllegalStateException(name + ": the transform is closed");
        }
        return c;
    }

    /** Gives a context back, or frees it when the pool is full or closed. */
    void give(C c) {
        if (!closed) {
            int home = homeSlot();
            for (int i = 0; i < SLOTS; i++) {
                int slot = (home + i) & (SLOTS - 1);
                if (idle.getPlain(slot) == null && idle.compareAndSet(slot, null, c)) {
                    if (closed && idle.compareAndSet(slot, c, null)) {
                        free.accept(c); // close() ran meanwhile and may have missed this slot
                    }
                    return;
                }
            }
        }
        free.accept(c);
    }

    boolean isClosed() {
        return closed;
    }

    @SuppressWarnings("deprecation") // Thread.threadId() is JDK 19+; getId() is the same number
    private static int homeSlot() {
        return (int) Thread.currentThread().getId() & (SLOTS - 1);
    }

    /** Refuses further takes and frees every idle context; busy ones are freed as they come back. */
    @Override
    public void close() {
        closed = true;
        for (int i = 0; i < SLOTS; i++) {
            C c = idle.getAndSet(i, null);
            if (c != null) {
                free.accept(c);
            }
        }
    }
}

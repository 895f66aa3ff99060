package dev.loopdev.ublk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The ring arithmetic against a fake kernel on the other side of the same memory: free-running 32-bit heads and
 * tails that wrap, a full submission ring, completions consumed in order across the wrap.
 */
class RingTest {
    private static final int ENTRIES = 8;
    private static final int SQE = 64;
    private static final Ring.Layout AT = new Ring.Layout(0, 4, 8, 12, 64, 0, 4, 8, 12, 64, SQE, 16);

    private final ByteBuffer sq = direct(64 + 4 * ENTRIES);
    private final ByteBuffer cq = direct(64 + 16 * 2 * ENTRIES);
    private final ByteBuffer sqes = direct(SQE * ENTRIES);

    private static ByteBuffer direct(int n) {
        return ByteBuffer.allocateDirect(n).order(ByteOrder.nativeOrder());
    }

    private Ring ring(int start) {
        sq.putInt(0, start).putInt(4, start).putInt(8, ENTRIES - 1).putInt(12, ENTRIES);
        cq.putInt(0, start).putInt(4, start).putInt(8, 2 * ENTRIES - 1).putInt(12, 2 * ENTRIES);
        return new Ring(sq, cq, sqes, AT);
    }

    /** What the kernel does with the submission ring: take every published SQE, in order, through the array. */
    private ArrayDeque<Long> kernelTakes() {
        ArrayDeque<Long> taken = new ArrayDeque<>();
        int head = sq.getInt(0);
        int tail = sq.getInt(4);
        for (; head != tail; head++) {
            int index = sq.getInt(64 + 4 * (head & (ENTRIES - 1)));
            taken.add(sqes.getLong(index * SQE + IoUring.SQE_USER_DATA));
        }
        sq.putInt(0, head);
        return taken;
    }

    private void kernelPosts(long userData, int res) {
        int tail = cq.getInt(4);
        int at = 64 + (tail & (2 * ENTRIES - 1)) * 16;
        cq.putLong(at, userData).putInt(at + 8, res);
        cq.putInt(4, tail + 1);
    }

    @Test
    void submissionsWrapAndAFullRingSaysSo() {
        Ring r = ring(-3); // the 32-bit counters wrap after three entries
        for (int i = 0; i < ENTRIES; i++) {
            int off = r.nextSqe();
            assertEquals(((-3 + i) & (ENTRIES - 1)) * SQE, off);
            r.sqes().putLong(off + IoUring.SQE_USER_DATA, 100 + i);
        }
        assertEquals(-1, r.nextSqe(), "a ninth SQE while the kernel has taken none");
        assertEquals(ENTRIES, r.sqPending());
        assertEquals(0, kernelTakes().size(), "nothing is visible before submit()");
        r.submit();
        ArrayDeque<Long> taken = kernelTakes();
        for (int i = 0; i < ENTRIES; i++) {
            assertEquals(100 + i, taken.poll());
        }
        assertEquals(0, r.sqPending());
        int off = r.nextSqe();
        assertEquals(((-3 + ENTRIES) & (ENTRIES - 1)) * SQE, off);
        for (int i = 0; i < SQE; i += 8) {
            assertEquals(0L, r.sqes().getLong(off + i), "a claimed SQE starts zeroed");
        }
    }

    @Test
    void completionsAreReadInOrderAcrossTheWrap() {
        Ring r = ring(-5);
        Random random = new Random(16);
        long next = 0;
        long expected = 0;
        for (int round = 0; round < 200; round++) {
            int posted = random.nextInt(2 * ENTRIES - r.cqReady() + 1);
            for (int i = 0; i < posted; i++, next++) {
                kernelPosts(next, (int) -next);
            }
            int ready = r.cqReady();
            int take = random.nextInt(ready + 1);
            for (int i = 0; i < take; i++, expected++) {
                assertEquals(expected, r.userData(i));
                assertEquals((int) -expected, r.result(i));
            }
            r.advance(take);
            assertEquals(cq.getInt(0), -5 + (int) expected, "the head the kernel sees");
        }
    }

    @Test
    void theIndirectionArrayIsTheIdentity() {
        ring(0);
        for (int i = 0; i < ENTRIES; i++) {
            assertEquals(i, sq.getInt(64 + 4 * i));
        }
    }
}

package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PageBitsTest {
    /** Seeded random sets, clears and run walks against a boolean[] model, across word boundaries. */
    @Test
    void matchesAModel() throws Exception {
        int pages = 300;
        for (long seed = 1; seed <= 20; seed++) {
            Random rnd = new Random(seed);
            PageBits bits = new PageBits(pages);
            boolean[] model = new boolean[pages];
            for (int op = 0; op < 500; op++) {
                int a = rnd.nextInt(pages);
                int b = Math.min(pages - 1, a + rnd.nextInt(rnd.nextBoolean() ? 3 : 140));
                String what = "seed " + seed + " op " + op + " [" + a + ", " + b + "]";
                switch (rnd.nextInt(3)) {
                    case 0 -> {
                        bits.set(a, b);
                        for (int i = a; i <= b; i++) {
                            model[i] = true;
                        }
                    }
                    case 1 -> {
                        bits.clear(a, b);
                        for (int i = a; i <= b; i++) {
                            model[i] = false;
                        }
                    }
                    default -> {
                        List<int[]> expected = runsOfClear(model, a, b);
                        List<int[]> seen = new ArrayList<>();
                        boolean setThem = rnd.nextBoolean();
                        bits.forEachClearRun(a, b, (f, l) -> {
                            seen.add(new int[] {f, l});
                            return setThem;
                        });
                        assertEquals(expected.size(), seen.size(), what + ": runs");
                        for (int i = 0; i < expected.size(); i++) {
                            assertEquals(expected.get(i)[0], seen.get(i)[0], what + ": run " + i + " starts");
                            assertEquals(expected.get(i)[1], seen.get(i)[1], what + ": run " + i + " ends");
                        }
                        if (setThem) {
                            for (int i = a; i <= b; i++) {
                                model[i] = true;
                            }
                        }
                    }
                }
                for (int i = 0; i < pages; i++) {
                    assertEquals(model[i], bits.get(i), what + ": page " + i);
                }
            }
        }
    }

    @Test
    void aFullRangeHasNoRuns() throws Exception {
        PageBits bits = new PageBits(128);
        bits.set(0, 127);
        bits.forEachClearRun(0, 127, (f, l) -> {
            throw new AssertionError("run [" + f + ", " + l + "] in a full range");
        });
        bits.clear(64, 64);
        List<Integer> firsts = new ArrayList<>();
        bits.forEachClearRun(0, 127, (f, l) -> firsts.add(f) && f == l);
        assertEquals(List.of(64), firsts);
        assertTrue(bits.get(64), "the run's flag was set because the action said so");
    }

    private static List<int[]> runsOfClear(boolean[] model, int a, int b) {
        List<int[]> runs = new ArrayList<>();
        int i = a;
        while (i <= b) {
            if (model[i]) {
                i++;
                continue;
            }
            int start = i;
            while (i <= b && !model[i]) {
                i++;
            }
            runs.add(new int[] {start, i - 1});
        }
        return runs;
    }
}

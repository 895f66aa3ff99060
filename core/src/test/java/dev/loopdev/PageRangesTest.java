package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PageRangesTest {
    record R(long page, int from, int size, long done) {
    }

    private static List<R> ranges(long pos, long len, int pageSize) {
        List<R> out = new ArrayList<>();
        new PageRanges(pageSize).forEach(pos, len, (p, f, s, d) -> out.add(new R(p, f, s, d)));
        return out;
    }

    @Test
    void splitsAtPageBoundaries() {
        assertEquals(List.of(new R(0, 100, 3996, 0), new R(1, 0, 4096, 3996), new R(2, 0, 8, 8092)),
                ranges(100, 8100, 4096));
        assertEquals(List.of(), ranges(5, 0, 4096));
        assertEquals(List.of(new R(3, 4095, 1, 0)), ranges(3 * 4096 + 4095, 1, 4096));
    }

    @Test
    void coversEveryByteOnceInOrderForRandomRanges() {
        Random rnd = new Random(9);
        for (int i = 0; i < 1000; i++) {
            int pageSize = 1 << (1 + rnd.nextInt(13));
            long pos = rnd.nextInt(1 << 20);
            long len = rnd.nextInt(1 << 16);
            long next = pos;
            long done = 0;
            for (R r : ranges(pos, len, pageSize)) {
                assertEquals(next, r.page * pageSize + r.from);
                assertEquals(done, r.done);
                next += r.size;
                done += r.size;
                assert r.size > 0 && r.from + r.size <= pageSize;
            }
            assertEquals(pos + len, next);
        }
    }

    @Test
    void namesThePageArithmetic() {
        PageRanges windows = new PageRanges(8192);
        assertEquals(2, windows.pageIndex(2 * 8192 + 5));
        assertEquals(5, windows.offsetInPage(2 * 8192 + 5));
        assertEquals(3 * 8192L, windows.pageStart(3));
        assertEquals(0, windows.pageCount(0));
        assertEquals(1, windows.pageCount(1));
        assertEquals(1, windows.pageCount(8192));
        assertEquals(2, windows.pageCount(8193));
    }
}

package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class BufferPoolTest {
    @Test
    void buffersStartOnAPageAndHaveTheirClassSize() {
        BufferPool pool = new BufferPool(32 << 20);
        for (int bytes : new int[] {1, 4096, 5000, 65536, 200_000, 262144, 1 << 20, 32 << 20}) {
            ByteBuffer b = pool.acquire(bytes);
            assertTrue(b.isDirect());
            assertEquals(bytes, b.limit());
            assertEquals(0, Integer.bitCount(b.capacity()) - 1, "a power of two: " + b.capacity());
            assertTrue(b.capacity() >= Math.max(bytes, 4096));
            long address = Pointer.nativeValue(Native.getDirectBufferPointer(b));
            assertEquals(0, address % 4096, bytes + " bytes at " + Long.toHexString(address));
            pool.release(b);
        }
    }

    @Test
    void aReleasedBufferIsTakenAgain() {
        BufferPool pool = new BufferPool(1 << 20);
        ByteBuffer b = pool.acquire(300_000);
        pool.release(b);
        assertSame(b, pool.acquire(262_145));
    }
}

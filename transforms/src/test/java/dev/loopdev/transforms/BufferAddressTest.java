package dev.loopdev.transforms;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** A direct buffer's address without a JNI call is the address JNA's JNI call gives. */
class BufferAddressTest {
    @Test
    void sameAddressAsJnasWhateverThePositionOrSlice() {
        ByteBuffer whole = ByteBuffer.allocateDirect(8192);
        ByteBuffer[] buffers = {whole, whole.duplicate().position(100), whole.slice(4096, 512),
            whole.slice(17, 300).position(9), whole.asReadOnlyBuffer()};
        for (ByteBuffer b : buffers) {
            assertEquals(Pointer.nativeValue(Native.getDirectBufferPointer(b)), BufferAddress.of(b), b.toString());
        }
        assertEquals(BufferAddress.of(whole) + 4096, BufferAddress.of(whole.slice(4096, 512)));
    }

    @Test
    void heapBuffersHaveNone() {
        assertThrows(IllegalArgumentException.class, () -> BufferAddress.of(ByteBuffer.allocate(64)));
    }

    /** The cheap ways are the ones in use: the segment's address on Java 22+, the field through Unsafe before. */
    @Test
    void noJniCallUnlessTold() {
        String expected = "jna".equals(System.getProperty(Downcall.PROPERTY)) ? "jna"
                : Runtime.version().feature() >= 22 ? "segment" : "unsafe";
        assertEquals(expected, BufferAddress.method());
    }
}

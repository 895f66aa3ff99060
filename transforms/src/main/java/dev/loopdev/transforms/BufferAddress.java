package dev.loopdev.transforms;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import sun.misc.Unsafe;

/**
 * The native address of a direct buffer, for handing it to libcrypto, without a JNI call: JNA's
 * {@code getDirectBufferPointer} is one (JNI's {@code GetDirectBufferAddress}, whose type check alone took 4% of a
 * 4 KiB AES-XTS request's time) plus a {@link Pointer} object. On Java 22 and later it is
 * {@code MemorySegment.ofBuffer(b).address()} ({@link Downcall#bufferAddress}); before, the buffer's own
 * {@code address} field read through {@code sun.misc.Unsafe}, as Netty reads it (not on 22 and later, where the JDK
 * warns about Unsafe's memory access). {@code -Dloopdev.downcall=jna} keeps JNA's call (A/B benchmarks).
 */
final class BufferAddress {
    /** {@code MemorySegment.ofBuffer(b).address()}: the address of the buffer's position. */
    private static final MethodHandle SEGMENT_ADDRESS = Downcall.bufferAddress();
    private static final Unsafe UNSAFE = SEGMENT_ADDRESS == null ? unsafe() : null;
    /** Where {@code Buffer.address} is in a buffer object, for {@link #UNSAFE}. */
    private static final long FIELD = UNSAFE == null ? -1 : field();

    private BufferAddress() {
    }

    /** The address of {@code direct}'s first byte (not its position). */
    static long of(ByteBuffer direct) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("a heap buffer has no native address");
        }
        if (SEGMENT_ADDRESS != null) {
            try {
                return (long) SEGMENT_ADDRESS.invokeExact(direct) - direct.position();
            } catch (Throwable e) { // ofBuffer takes any buffer, and address() throws nothing
                throw new IllegalStateException("no address for a direct buffer", e);
            }
        }
        if (FIELD >= 0) {
            return UNSAFE.getLong(direct, FIELD);
        }
        return Pointer.nativeValue(Native.getDirectBufferPointer(direct));
    }

    /** How an address is found: {@code segment}, {@code unsafe} or {@code jna} (for the tests). */
    static String method() {
        return SEGMENT_ADDRESS != null ? "segment" : FIELD >= 0 ? "unsafe" : "jna";
    }

    private static Unsafe unsafe() {
        if ("jna".equals(System.getProperty(Downcall.PROPERTY))) {
            return null;
        }
        try {
            Field f = Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (Unsafe) f.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    private static long field() {
        try {
            return UNSAFE.objectFieldOffset(Buffer.class.getDeclaredField("address"));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return -1;
        }
    }
}

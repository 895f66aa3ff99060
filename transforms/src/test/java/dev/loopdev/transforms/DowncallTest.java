package dev.loopdev.transforms;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.lang.invoke.MethodHandle;
import org.junit.jupiter.api.Test;

/**
 * The foreign-function downcall: linked on Java 22 and later (the build enables native access for the tests'
 * JVMs there, as the jar's manifest does for loopdev), absent on Java 17, where JNA keeps the call.
 */
class DowncallTest {
    private static final boolean FFM = Runtime.version().feature() >= 22
            && !"jna".equals(System.getProperty(Downcall.PROPERTY));

    @Test
    void callsACFunctionWhereTheJdkHasTheInterface() throws Throwable {
        long memcmp = Pointer.nativeValue(NativeLibrary.getInstance("c").getFunction("memcmp"));
        MethodHandle h = Downcall.link(memcmp, int.class, long.class, long.class, long.class);
        if (!FFM) {
            assertNull(h, "Java " + Runtime.version().feature() + " has no foreign function interface to link with");
            return;
        }
        assertNotNull(h, "Java " + Runtime.version().feature() + " should link through the foreign function interface");
        try (Memory a = new Memory(16); Memory b = new Memory(16)) {
            a.setMemory(0, 16, (byte) 7);
            b.setMemory(0, 16, (byte) 7);
            assertEquals(0, (int) h.invokeExact(Pointer.nativeValue(a), Pointer.nativeValue(b), 16L));
            b.setByte(9, (byte) 9);
            assertTrue((int) h.invokeExact(Pointer.nativeValue(a), Pointer.nativeValue(b), 16L) < 0);
            assertEquals(0, (int) h.invokeExact(Pointer.nativeValue(a), Pointer.nativeValue(b), 9L));
        }
    }

    @Test
    void libcryptosXtsUsesItWhereLinked() {
        if (LibCryptoXts.AVAILABLE) {
            assertEquals(FFM ? "ffm" : "jna", LibCryptoXts.binding());
        }
    }

    @Test
    void noAddressNoHandle() {
        assertNull(Downcall.link(0, int.class, long.class));
    }
}

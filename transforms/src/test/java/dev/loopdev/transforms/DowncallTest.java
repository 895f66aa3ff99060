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
 * JVMs there, as the jar's manifest does for loopdev), absent on Java 17, where JNA keeps the call; and which of
 * the three ways into libcrypto XTS takes.
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

    /**
     * The build always makes libloopdev-xts.so, so XTS takes a request's sectors in one JNI call on every JDK unless
     * told otherwise; {@code -Dloopdev.downcall=ffm} leaves a call per sector through the foreign function interface
     * on Java 22+, and {@code jna} through JNA.
     */
    @Test
    void libcryptosXtsUsesTheCheapestBinding() {
        String forced = System.getProperty(Downcall.PROPERTY);
        assertEquals(forced == null || forced.equals("jni"), XtsSectors.LOADED, "libloopdev-xts.so loaded");
        if (LibCryptoXts.AVAILABLE) {
            assertEquals(XtsSectors.LOADED ? "jni" : FFM ? "ffm" : "jna", LibCryptoXts.binding());
        }
    }

    @Test
    void noAddressNoHandle() {
        assertNull(Downcall.link(0, int.class, long.class));
    }
}

package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ErrnoTest {
    @Test
    void numbersAreLinuxsAndEachNamesOne() {
        assertEquals(11, Errno.EAGAIN.code);
        assertEquals(28, Errno.ENOSPC.code);
        assertEquals(95, Errno.ENOTSUP.code);
        Set<Integer> seen = new HashSet<>();
        for (Errno e : Errno.values()) {
            assertEquals(true, seen.add(e.code), e + " repeats " + e.code);
            assertSame(e, Errno.of(e.code));
        }
        assertNull(Errno.of(9999));
    }

    /** The words are libc's, as coreutils prints them (and as the JDK's I/O errors carry them). */
    @Test
    void messagesAreStrerrors() {
        assertEquals("No space left on device", Errno.ENOSPC.message());
        assertEquals("Resource temporarily unavailable", Errno.EAGAIN.message());
        assertEquals("No such file or directory", Errno.message(2));
        assertEquals("Directory not empty", Errno.ENOTEMPTY.message());
    }

    @Test
    void aFullFileSystemFromTheJdkIsEnospc() {
        assertEquals(Errno.ENOSPC, BlockDeviceException.errnoOf(new java.io.IOException("No space left on device")));
        assertEquals(Errno.ENOSPC, BlockDeviceException.errnoOf(new java.io.IOException("Disk quota exceeded")));
        assertEquals(Errno.EIO, BlockDeviceException.errnoOf(new java.io.IOException("Input/output error")));
    }
}

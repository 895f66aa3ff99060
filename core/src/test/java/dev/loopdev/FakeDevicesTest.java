package dev.loopdev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** The fakes other modules' tests stand on: they must do what they say. */
class FakeDevicesTest {
    @Test
    void memoryDeviceReadsBackWritesAndZeroes() throws Exception {
        byte[] bytes = new byte[4096];
        try (MemoryDevice d = new MemoryDevice(bytes, false)) {
            d.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 100, false);
            ByteBuffer back = ByteBuffer.allocate(3);
            d.read(back, 100);
            assertArrayEquals(new byte[] {1, 2, 3}, back.array());
            d.trim(101, 1, false);
            assertEquals(0, bytes[101]);
            assertEquals(3, bytes[102]);
        }
        MemoryDevice ro = new MemoryDevice(new byte[512], true);
        assertEquals(Errno.EPERM, assertThrows(BlockDeviceException.class,
                () -> ro.write(ByteBuffer.allocate(1), 0, false)).errno());
        ro.close();
        assertEquals(Errno.ESHUTDOWN, assertThrows(BlockDeviceException.class,
                () -> ro.read(ByteBuffer.allocate(1), 0)).errno());
    }

    @Test
    void faultyDeviceFailsWhatItIsToldAndChangesNothing() throws Exception {
        byte[] bytes = new byte[4096];
        FaultyDevice d = new FaultyDevice(new MemoryDevice(bytes, false)).fail(FaultyDevice.Op.WRITE, Errno.ENOSPC);
        assertEquals(Errno.ENOSPC, assertThrows(BlockDeviceException.class,
                () -> d.write(ByteBuffer.wrap(new byte[] {9}), 0, false)).errno());
        assertEquals(0, bytes[0], "a failed write changed nothing");
        InternalError fault = new InternalError("a fault on a mapped page");
        d.fail(FaultyDevice.Op.READ, () -> fault);
        assertSame(fault, assertThrows(InternalError.class, () -> d.read(ByteBuffer.allocate(1), 0)));
        d.flush();
        assertEquals(1, d.injected(FaultyDevice.Op.WRITE));
        d.heal();
        d.write(ByteBuffer.wrap(new byte[] {9}), 0, false);
        assertEquals(9, bytes[0]);
    }

    @Test
    void faultyDeviceFailsOnlyWhatTouchesItsBadRanges() throws Exception {
        byte[] bytes = new byte[8192];
        FaultyDevice d = new FaultyDevice(new MemoryDevice(bytes, false))
                .failAt(FaultyDevice.Op.READ, 1024, 512, Errno.EIO)
                .failAt(FaultyDevice.Op.WRITE, 4096, 1, Errno.ENOSPC);
        d.read(ByteBuffer.allocate(1024), 0);
        d.read(ByteBuffer.allocate(512), 1536);
        assertEquals(Errno.EIO, assertThrows(BlockDeviceException.class,
                () -> d.read(ByteBuffer.allocate(2), 1535)).errno());
        assertEquals(Errno.EIO, assertThrows(BlockDeviceException.class,
                () -> d.read(ByteBuffer.allocate(4096), 0)).errno());
        d.write(ByteBuffer.wrap(new byte[] {7}), 4097, false);
        d.write(ByteBuffer.wrap(new byte[] {7}), 4095, false);
        assertEquals(Errno.ENOSPC, assertThrows(BlockDeviceException.class,
                () -> d.write(ByteBuffer.wrap(new byte[] {5, 5}), 4095, false)).errno());
        assertEquals(7, bytes[4095], "a failed write changed nothing");
        assertEquals(0, bytes[4096]);
        d.write(ByteBuffer.wrap(new byte[] {6}), 1024, false); // a bad stretch for reads is still writable
        assertEquals(3, d.injected(FaultyDevice.Op.READ) + d.injected(FaultyDevice.Op.WRITE));
        d.heal();
        d.read(ByteBuffer.allocate(8192), 0);
    }
}

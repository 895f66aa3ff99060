package dev.loopdev.ublk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loopdev.Errno;
import dev.loopdev.FaultyDevice;
import dev.loopdev.ForwardingBlockDevice;
import dev.loopdev.MemoryDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Every ublk operation onto a device, and every failure onto the result the driver is given. */
class RequestsTest {
    private static final int SIZE = 1 << 20;
    private static final int BUFFER = 64 << 10;

    private final byte[] bytes = new byte[SIZE];
    private final MemoryDevice memory = new MemoryDevice(bytes, false);
    private final List<String> calls = new ArrayList<>();
    /** What the device was asked, with its flags, before the memory device does it. */
    private final ForwardingBlockDevice recording = new ForwardingBlockDevice(memory) {
        @Override
        public void write(ByteBuffer src, long offset, boolean fua) throws IOException {
            calls.add("write " + offset + " " + src.remaining() + (fua ? " fua" : ""));
            super.write(src, offset, fua);
        }

        @Override
        public void flush() throws IOException {
            calls.add("flush");
            super.flush();
        }

        @Override
        public void trim(long offset, long length, boolean fua) throws IOException {
            calls.add("trim " + offset + " " + length);
            super.trim(offset, length, fua);
        }

        @Override
        public void writeZeroes(long offset, long length, boolean fua, boolean mayTrim) throws IOException {
            calls.add("zero " + offset + " " + length + (mayTrim ? " may-trim" : " no-trim"));
            super.writeZeroes(offset, length, fua, mayTrim);
        }
    };
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER);

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void writeThenReadThroughTheTagBuffer() {
        Requests r = new Requests(recording, "test");
        byte[] data = random(8192, 1);
        buffer.clear().put(data);
        assertEquals(8192, r.serve(UblkAbi.OP_WRITE, 24, 16, buffer));
        assertArrayEquals(data, Arrays.copyOfRange(bytes, 24 * 512, 24 * 512 + 8192));
        assertEquals(List.of("write 12288 8192"), calls);

        buffer.clear().put(new byte[BUFFER]);
        assertEquals(4096, r.serve(UblkAbi.OP_READ, 28, 8, buffer));
        byte[] back = new byte[4096];
        buffer.position(0).get(back);
        assertArrayEquals(Arrays.copyOfRange(data, 2048, 2048 + 4096), back);
    }

    @Test
    void fuaReachesTheDevice() {
        Requests r = new Requests(recording, "test");
        buffer.clear().put(random(512, 2));
        assertEquals(512, r.serve(UblkAbi.OP_WRITE | UblkAbi.IO_F_FUA, 0, 1, buffer));
        assertEquals(List.of("write 0 512 fua"), calls);
    }

    @Test
    void flushIgnoresItsMeaninglessRange() {
        Requests r = new Requests(recording, "test");
        assertEquals(0, r.serve(UblkAbi.OP_FLUSH, -1L, 0, buffer));
        assertEquals(0, r.serve(UblkAbi.OP_FLUSH, 0, 0, buffer));
        assertEquals(List.of("flush", "flush"), calls);
    }

    @Test
    void discardAndWriteZeroes() {
        Arrays.fill(bytes, (byte) 7);
        Requests r = new Requests(recording, "test");
        assertEquals(0, r.serve(UblkAbi.OP_DISCARD, 8, 8, buffer));
        assertEquals(0, r.serve(UblkAbi.OP_WRITE_ZEROES, 64, 16, buffer));
        assertEquals(0, r.serve(UblkAbi.OP_WRITE_ZEROES | UblkAbi.IO_F_NOUNMAP, 128, 1, buffer));
        assertEquals(List.of("trim 4096 4096", "zero 32768 8192 may-trim", "zero 65536 512 no-trim"), calls);
        assertEquals(0, bytes[4096]);
        assertEquals(7, bytes[4095]);
        assertEquals(0, bytes[32768 + 8191]);
        assertEquals(7, bytes[32768 + 8192]);
    }

    @Test
    void refusalsBecomeNegativeErrnos() {
        Requests r = new Requests(recording, "test");
        assertEquals(-Errno.EINVAL.code, r.serve(UblkAbi.OP_READ, SIZE / 512, 1, buffer), "past the end");
        assertEquals(-Errno.EINVAL.code, r.serve(UblkAbi.OP_WRITE, SIZE / 512 - 1, 2, buffer), "across the end");
        assertEquals(-Errno.EINVAL.code, r.serve(UblkAbi.OP_READ, 0, BUFFER / 512 + 1, buffer), "beyond the buffer");
        assertEquals(-Errno.ENOTSUP.code, r.serve(UblkAbi.OP_WRITE_SAME, 0, 1, buffer));
        assertEquals(-Errno.ENOTSUP.code, r.serve(18, 0, 1, buffer), "REPORT_ZONES");
        assertEquals(List.of(), calls, "nothing reached the device");
    }

    @Test
    void deviceFailuresBecomeTheirErrnos() {
        FaultyDevice faulty = new FaultyDevice(memory);
        Requests r = new Requests(faulty, "test");
        faulty.fail(FaultyDevice.Op.WRITE, Errno.ENOSPC);
        assertEquals(-28, r.serve(UblkAbi.OP_WRITE, 0, 8, buffer));
        faulty.fail(FaultyDevice.Op.READ, () -> new InternalError("a fault occurred in an unsafe memory access"));
        assertEquals(-5, r.serve(UblkAbi.OP_READ, 0, 8, buffer));
        faulty.fail(FaultyDevice.Op.FLUSH, () -> new IOException("Input/output error"));
        assertEquals(-5, r.serve(UblkAbi.OP_FLUSH, 0, 0, buffer));
        faulty.fail(FaultyDevice.Op.ZERO, Errno.EPERM);
        assertEquals(-1, r.serve(UblkAbi.OP_WRITE_ZEROES, 0, 8, buffer));
        faulty.fail(FaultyDevice.Op.TRIM, () -> new RuntimeException("bug"));
        assertEquals(-5, r.serve(UblkAbi.OP_DISCARD, 0, 8, buffer));
        faulty.heal();
        buffer.clear().put(random(4096, 3));
        assertEquals(4096, r.serve(UblkAbi.OP_WRITE, 0, 8, buffer), "healed");
    }

    @Test
    void aReadOnlyDeviceRefusesWrites() {
        Requests r = new Requests(new MemoryDevice(new byte[SIZE], true), "test");
        assertEquals(-Errno.EPERM.code, r.serve(UblkAbi.OP_WRITE, 0, 8, buffer));
        assertEquals(4096, r.serve(UblkAbi.OP_READ, 0, 8, buffer));
    }
}

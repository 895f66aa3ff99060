package dev.loopdev.ublk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Command numbers and structure layouts against the values of include/uapi/linux/ublk_cmd.h. */
class UblkAbiTest {
    @Test
    void ioctlEncodedNumbers() {
        UblkAbi.Encoding e = UblkAbi.Encoding.IOCTL;
        assertEquals(0xc0207504, e.control(UblkAbi.CMD_ADD_DEV));       // UBLK_U_CMD_ADD_DEV
        assertEquals(0xc0207505, e.control(UblkAbi.CMD_DEL_DEV));
        assertEquals(0xc0207506, e.control(UblkAbi.CMD_START_DEV));
        assertEquals(0xc0207507, e.control(UblkAbi.CMD_STOP_DEV));
        assertEquals(0xc0207508, e.control(UblkAbi.CMD_SET_PARAMS));
        assertEquals(0x80207502, e.control(UblkAbi.CMD_GET_DEV_INFO));  // _IOR
        assertEquals(0x80207509, e.control(UblkAbi.CMD_GET_PARAMS));
        assertEquals(0x80207513, e.control(UblkAbi.CMD_GET_FEATURES));
        assertEquals(0xc0107520, e.io(UblkAbi.IO_FETCH_REQ));           // UBLK_U_IO_FETCH_REQ
        assertEquals(0xc0107521, e.io(UblkAbi.IO_COMMIT_AND_FETCH_REQ));
    }

    @Test
    void legacyNumbersAreTheBareOnes() {
        UblkAbi.Encoding e = UblkAbi.Encoding.LEGACY;
        assertEquals(0x04, e.control(UblkAbi.CMD_ADD_DEV));
        assertEquals(0x13, e.control(UblkAbi.CMD_GET_FEATURES));
        assertEquals(0x20, e.io(UblkAbi.IO_FETCH_REQ));
        assertEquals(0x21, e.io(UblkAbi.IO_COMMIT_AND_FETCH_REQ));
    }

    @Test
    void encodingFollowsTheFeatureBit() {
        assertEquals(UblkAbi.Encoding.IOCTL, UblkAbi.Encoding.of(UblkAbi.F_CMD_IOCTL_ENCODE | UblkAbi.F_USER_COPY));
        assertEquals(UblkAbi.Encoding.LEGACY, UblkAbi.Encoding.of(0));
        assertEquals(UblkAbi.Encoding.LEGACY, UblkAbi.Encoding.of(UblkAbi.F_USER_COPY));
    }

    @Test
    void controlCommandLayout() {
        ByteBuffer b = ByteBuffer.allocate(48).order(ByteOrder.nativeOrder());
        UblkAbi.putControlCommand(b, 8, 7, 0xffff, 64, 0x1122334455667788L, 4242);
        assertEquals(7, b.getInt(8));                      // dev_id
        assertEquals((short) 0xffff, b.getShort(12));      // queue_id: -1, no queue
        assertEquals(64, b.getShort(14));                  // len
        assertEquals(0x1122334455667788L, b.getLong(16));  // addr
        assertEquals(4242, b.getLong(24));                 // data[0]
        assertEquals(0, b.getLong(32));                    // dev_path_len, pad, reserved
    }

    @Test
    void ioCommandLayout() {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        UblkAbi.putIoCommand(b, 0, 3, 511, -5, 0x7f0000001000L);
        assertEquals(3, b.getShort(0));
        assertEquals(511, b.getShort(2));
        assertEquals(-5, b.getInt(4));
        assertEquals(0x7f0000001000L, b.getLong(8));
    }

    @Test
    void devInfoRoundTripsAtTheKernelsOffsets() {
        ByteBuffer b = ByteBuffer.allocate(UblkAbi.DEV_INFO_SIZE).order(ByteOrder.nativeOrder());
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (byte) 0x5a); // encode must clear what it does not set
        }
        UblkAbi.DevInfo info = new UblkAbi.DevInfo(2, 128, 1, 1 << 20, -1, 99, UblkAbi.F_CMD_IOCTL_ENCODE, 0, 0);
        info.encode(b);
        assertEquals(2, b.getShort(0));
        assertEquals(128, b.getShort(2));
        assertEquals(1 << 20, b.getInt(8));
        assertEquals(-1, b.getInt(12));
        assertEquals(99, b.getInt(16));
        assertEquals(UblkAbi.F_CMD_IOCTL_ENCODE, b.getLong(24));
        assertEquals(0L, b.getLong(32));
        assertEquals(0L, b.getLong(56));
        b.putInt(40, 1000).putInt(44, 1001);
        assertEquals(new UblkAbi.DevInfo(2, 128, 1, 1 << 20, -1, 99, UblkAbi.F_CMD_IOCTL_ENCODE, 1000, 1001),
                UblkAbi.DevInfo.decode(b));
    }

    @Test
    void paramsFromTheDevicesGeometry() {
        ByteBuffer b = ByteBuffer.allocate(UblkAbi.PARAMS_SIZE).order(ByteOrder.nativeOrder());
        new UblkAbi.Params(1L << 30, 4096, 4096, 1 << 20, false, true, true).encode(b);
        assertEquals(60, b.getInt(0));                                  // len
        assertEquals(UblkAbi.PARAM_TYPE_BASIC | UblkAbi.PARAM_TYPE_DISCARD, b.getInt(4));
        assertEquals(UblkAbi.ATTR_VOLATILE_CACHE | UblkAbi.ATTR_FUA, b.getInt(8));
        assertEquals(12, b.get(12));                                    // logical_bs_shift
        assertEquals(12, b.get(13));                                    // physical_bs_shift
        assertEquals(2048, b.getInt(16));                               // max_sectors
        assertEquals((1L << 30) >> 9, b.getLong(24));                   // dev_sectors
        assertEquals(4096, b.getInt(44));                               // discard_granularity
        assertEquals(0x7fffff, b.getInt(48));                           // max_discard_sectors
        assertEquals(0x7fffff, b.getInt(52));                           // max_write_zeroes_sectors
        assertEquals(1, b.getShort(56));                                // max_discard_segments

        new UblkAbi.Params(1L << 20, 512, 4096, 1 << 17, true, false, false).encode(b);
        assertEquals(UblkAbi.ATTR_VOLATILE_CACHE | UblkAbi.ATTR_FUA | UblkAbi.ATTR_READ_ONLY, b.getInt(8));
        assertEquals(9, b.get(12));
        assertEquals(12, b.get(13));
        assertEquals(256, b.getInt(16));
        assertEquals(0, b.getInt(48), "no discard");
        assertEquals(0, b.getShort(56));
        assertEquals(4096, b.getInt(44), "granularity stays set: the driver refuses 0");
    }

    @Test
    void userCopyOffsetsLeaveRoomForTheLargestRequest() {
        assertEquals(0x8000_0000L, UblkAbi.userCopyOffset(0, 0));                       // UBLKSRV_IO_BUF_OFFSET
        assertEquals(0x8000_0000L + (3L << 25), UblkAbi.userCopyOffset(0, 3));           // tags 32 MiB apart
        assertEquals(0x8000_0000L + (1L << 41) + (4095L << 25), UblkAbi.userCopyOffset(1, 4095));
    }

    @Test
    void descriptorArraysArePerQueueAtTheDeepestQueuesSize() {
        assertEquals(0, UblkAbi.descriptorOffset(0, 4096));
        assertEquals(4096L * 24, UblkAbi.descriptorOffset(1, 4096)); // 96 KiB, a whole number of pages
        assertEquals(3 * 4096L * 24, UblkAbi.descriptorOffset(3, 4096));
        assertEquals(4096, UblkAbi.descriptorBytes(64, 4096));
        assertEquals(8192, UblkAbi.descriptorBytes(200, 4096));
        assertEquals(65536, UblkAbi.descriptorBytes(200, 65536));
    }
}

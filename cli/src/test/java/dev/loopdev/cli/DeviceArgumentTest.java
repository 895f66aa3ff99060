package dev.loopdev.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DeviceArgumentTest {
    @Test
    void nbdDevicesByNameOrNumber() {
        assertEquals(3, DeviceArgument.nbdIndex("/dev/nbd3"));
        assertEquals(12, DeviceArgument.nbdIndex(" nbd12 "));
        assertEquals(7, DeviceArgument.nbdIndex("7"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DeviceArgument.nbdIndex("/dev/ublkb0"));
        assertEquals("not an NBD device: '/dev/ublkb0' (expected /dev/nbdN)", e.getMessage());
    }

    @Test
    void ublkDevicesByNameOrNumber() {
        assertEquals(0, DeviceArgument.ublkId("/dev/ublkb0"));
        assertEquals(4, DeviceArgument.ublkId("/dev/ublkc4"));
        assertEquals(5, DeviceArgument.ublkId("ublkb5"));
        assertEquals(6, DeviceArgument.ublkId("6"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DeviceArgument.ublkId("/dev/nbd0"));
        assertEquals("not a ublk device: '/dev/nbd0' (expected /dev/ublkbN)", e.getMessage());
    }

    @Test
    void aUblkNameIsToldFromAnNbdOne() {
        assertTrue(DeviceArgument.isUblk("/dev/ublkb1"));
        assertFalse(DeviceArgument.isUblk("/dev/nbd1"));
        assertFalse(DeviceArgument.isUblk("1"));
    }
}

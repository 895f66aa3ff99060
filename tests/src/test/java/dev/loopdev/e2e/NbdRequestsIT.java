package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Single NBD requests, right and wrong, sent with nbdsh (libnbd's strict mode off): every request gets the reply
 * the NBD spec asks for (nbdkit's validate_request is the model), and the connection keeps serving after an error.
 */
class NbdRequestsIT {
    private static final int MiB = 1 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Tools.require("nbdsh");
    }

    @Test
    void requestsOutsideTheDeviceAreRefused() {
        Path image = Images.sparse(dir, "disk.img", 4 * MiB);
        try (LoopdevServer server = LoopdevServer.unix(dir, image)) {
            Nbdsh.ok(server, """
                    h.pwrite(b"\\x77" * 512, size - 512)
                    fails({"EINVAL"}, "read across the end", h.pread, 1024, size - 512)
                    fails({"EINVAL"}, "read at the end", h.pread, 1, size)
                    fails({"EINVAL"}, "read far beyond", h.pread, 512, 1 << 40)
                    fails({"EINVAL", "EOVERFLOW"}, "read whose end wraps", h.pread, 4096, 2**64 - 512)
                    # the spec asks ENOSPC for writes beyond the end; the payload must still be consumed
                    fails({"ENOSPC"}, "write across the end", h.pwrite, b"x" * 1024, size - 512)
                    fails({"ENOSPC"}, "write far beyond", h.pwrite, b"x" * 4096, 1 << 40)
                    fails({"ENOSPC"}, "zero across the end", h.zero, 1024, size - 512)
                    fails({"EINVAL"}, "trim across the end", h.trim, 1024, size - 512)
                    alive()
                    assert h.pread(512, size - 512) == b"\\x77" * 512, "a refused write changed the device"
                    """);
            server.stop();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void oneByteAndMisalignedRequestsKeepEveryOtherByte(Variant v) {
        Path image = Images.random(dir, "disk.img", 4 * MiB, 11);
        byte[] initial = Images.readAll(image);
        byte[] plain = v.raw(initial, 0); // XOR is its own inverse: what the device shows for those raw bytes
        try (LoopdevServer server = LoopdevServer.unix(dir, image, v.options(dir, "--block-size", "4096"))) {
            Nbdsh.ok(server, """
                    rnd = random.Random(7)
                    model = bytearray(h.pread(1 << 20, 0))
                    for _ in range(300):
                        off = rnd.randrange(0, len(model))
                        n = rnd.randrange(1, min(1500, len(model) - off) + 1)
                        data = rnd.randbytes(n)
                        h.pwrite(data, off)
                        model[off:off + n] = data
                    for off in (0, 1, 7, 511, 512, 513, 4095, 4096, 65535, len(model) - 1):
                        h.pwrite(bytes([off & 0xff ^ 0x5a]), off)
                        model[off] = off & 0xff ^ 0x5a
                        assert h.pread(1, off) == model[off:off + 1], f"one byte at {off}"
                    for off, n in ((3, 5), (510, 4), (4000, 200), (1, 1 << 19)):
                        assert h.pread(n, off) == model[off:off + n], f"read of {n} at {off}"
                    assert h.pread(len(model), 0) == model, "device differs from the model"
                    h.flush()
                    with open(os.environ["MODEL"], "wb") as f:
                        f.write(model)
                    """, Map.of("MODEL", dir.resolve("model.bin").toString()));
            server.stop();
        }
        byte[] model = Images.readAll(dir.resolve("model.bin"));
        byte[] expected = plain.clone();
        System.arraycopy(model, 0, expected, 0, model.length);
        Images.assertSameBytes(v.raw(expected, 0), Images.readAll(image), "backing file");
    }

    @Test
    void readOnlyExportRefusesWritesWithEperm() {
        Path image = Images.random(dir, "disk.img", 2 * MiB, 12);
        byte[] before = Images.readAll(image);
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--read-only")) {
            Nbdsh.ok(server, """
                    assert h.is_read_only()
                    fails({"EPERM"}, "write", h.pwrite, b"x" * 4096, 0)
                    fails({"EPERM"}, "one-byte write", h.pwrite, b"x", 12345)
                    fails({"EPERM", "EINVAL"}, "zero", h.zero, 4096, 0)
                    fails({"EPERM", "EINVAL"}, "trim", h.trim, 4096, 0)
                    h.flush()
                    alive()
                    """);
            server.stop();
        }
        assertTrue(Arrays.equals(before, Images.readAll(image)), "a read-only export changed the file");
    }

    @Test
    void flagsTheServerDidNotAdvertiseAreRefused() {
        Path image = Images.sparse(dir, "disk.img", 4 * MiB);
        try (LoopdevServer server = LoopdevServer.unix(dir, image)) {
            Nbdsh.ok(server, """
                    fails({"EINVAL"}, "read with REQ_ONE (block status only)", h.pread, 512, 0, nbd.CMD_FLAG_REQ_ONE)
                    fails({"EINVAL"}, "write with FAST_ZERO (write-zeroes only)", h.pwrite, b"x" * 512, 0,
                          nbd.CMD_FLAG_FAST_ZERO)
                    fails({"EINVAL"}, "write with an undefined flag", h.pwrite, b"x" * 512, 0, 1 << 12)
                    fails({"EINVAL"}, "read with an undefined flag", h.pread, 512, 0, 1 << 12)
                    if not h.can_fast_zero():
                        fails({"EINVAL", "ENOTSUP"}, "zero with FAST_ZERO not advertised", h.zero, 512, 0,
                              nbd.CMD_FLAG_FAST_ZERO)
                    alive()
                    assert h.pread(512, 0) == bytes(512), "a refused write changed the device"
                    """);
            server.stop();
        }
    }

    @Test
    void trimIsRefusedWhenNotAdvertised() {
        Path image = Images.random(dir, "disk.img", MiB, 13);
        byte[] before = Images.readAll(image);
        Variant xor = new Variant("positional", true);
        try (LoopdevServer server = LoopdevServer.unix(dir, image, xor.options(dir))) {
            Nbdsh.ok(server, """
                    assert not h.can_trim(), "trim advertised with a transform"
                    fails({"EINVAL"}, "trim not advertised", h.trim, 4096, 0)
                    alive()
                    """);
            server.stop();
        }
        assertTrue(Arrays.equals(before, Images.readAll(image)), "a refused trim changed the file");
    }

    @Test
    void requestsOverTheMaximumAreRefusedAndTheServerSurvives() {
        Path image = Images.sparse(dir, "disk.img", 64 * MiB);
        try (LoopdevServer server = LoopdevServer.unix(dir, image)) {
            Nbdsh.ok(server, """
                    h.pwrite(b"\\xee" * 4096, 0, nbd.CMD_FLAG_FUA)
                    assert h.get_block_size(nbd.SIZE_MAXIMUM) == 32 << 20, h.get_block_size(nbd.SIZE_MAXIMUM)
                    fails({"EINVAL", "EOVERFLOW", "ENOMEM"}, "read of 33 MiB", h.pread, 33 << 20, 0)
                    alive()
                    assert len(h.pread(32 << 20, 0)) == 32 << 20   # exactly the maximum is fine
                    """);
            // A write over the maximum may be answered with an error or with a disconnect (the server need not
            // buffer 33 MiB it will refuse), but it must not change the device or stop the server.
            Tools.Result r = Nbdsh.run(server, """
                    try:
                        h.pwrite(b"\\x01" * (33 << 20), 0)
                        raise AssertionError("a 33 MiB write succeeded")
                    except nbd.Error as e:
                        print("refused:", errname(e), e.string)
                    """);
            assertEquals(0, r.exitCode(), r::describe);
            Nbdsh.ok(server, """
                    assert h.pread(4096, 0) == b"\\xee" * 4096, "a refused write changed the device"
                    """);
            server.stop();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.loopdev.e2e.Variant#all")
    void fuaFlushAndZero(Variant v) {
        Path image = v.zeroDevice(dir, "disk.img", 8 * MiB);
        try (LoopdevServer server = LoopdevServer.unix(dir, image, v.options(dir))) {
            Nbdsh.ok(server, """
                    assert h.can_fua() and h.can_flush() and h.can_zero()
                    data = bytes(range(256)) * 256
                    h.pwrite(data, 0, nbd.CMD_FLAG_FUA)
                    model = bytearray(data)
                    h.flush()
                    h.zero(4096, 4096)
                    h.zero(8192, 12288, nbd.CMD_FLAG_NO_HOLE | nbd.CMD_FLAG_FUA)
                    h.zero(777, 20001)
                    h.zero(1, 65535)  # one byte at 65535
                    for off, n in ((4096, 4096), (12288, 8192), (20001, 777), (65535, 1)):
                        model[off:off + n] = bytes(n)
                    assert h.pread(65536, 0) == model, "zeroed ranges"
                    h.flush()
                    """);
            server.stop();
        }
        byte[] expected = new byte[8 * MiB];
        for (int i = 0; i < 65536; i++) {
            expected[i] = (byte) i;
        }
        Arrays.fill(expected, 4096, 8192, (byte) 0);
        Arrays.fill(expected, 12288, 12288 + 8192, (byte) 0);
        Arrays.fill(expected, 20001, 20001 + 777, (byte) 0);
        expected[65535] = 0;
        Images.assertSameBytes(v.raw(expected, 0), Images.readAll(image), "backing file after zero");
    }

    @Test
    void trimReleasesSpaceInTheBackingFile() {
        Path image = Images.random(dir, "disk.img", 8 * MiB, 14);
        long before = Tools.allocatedBytes(image);
        try (LoopdevServer server = LoopdevServer.unix(dir, image)) {
            Nbdsh.ok(server, """
                    assert h.can_trim()
                    h.trim(4 << 20, 1 << 20)
                    h.trim(1 << 20, 0, nbd.CMD_FLAG_FUA)
                    h.flush()
                    """);
            server.stop();
        }
        long after = Tools.allocatedBytes(image);
        assertTrue(before - after >= 4 * MiB, "trim released " + (before - after) + " bytes of 5 MiB");
        assertEquals(8 * MiB, image.toFile().length(), "trim keeps the file's size");
    }
}

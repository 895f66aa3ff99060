package dev.loopdev.nbd;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Random;

/** A LoopDevice over a temp file, served on 127.0.0.1 with an ephemeral port. */
final class ServerFixture implements AutoCloseable {
    static final int SIZE = 1 << 20;

    final Path image;
    final byte[] initial = new byte[SIZE];
    final LoopDevice device;
    final NbdServer server;
    final InetSocketAddress address;

    ServerFixture(Path dir, boolean readOnly) throws IOException {
        this(dir, readOnly, NbdServer.Tuning.defaults());
    }

    ServerFixture(Path dir, boolean readOnly, NbdServer.Tuning tuning) throws IOException {
        image = dir.resolve("disk.img");
        new Random(42).nextBytes(initial);
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.write(initial);
        }
        device = LoopDevice.open(LoopConfig.of(image).withReadOnly(readOnly));
        server = new NbdServer(new Export("disk", device), tuning);
        address = server.listenTcp(new InetSocketAddress("127.0.0.1", 0));
    }

    NbdTestClient client(boolean structured) throws IOException {
        NbdTestClient c = NbdTestClient.connect(address);
        c.go("disk", structured);
        return c;
    }

    @Override
    public void close() throws IOException {
        server.close();
        device.close();
    }
}

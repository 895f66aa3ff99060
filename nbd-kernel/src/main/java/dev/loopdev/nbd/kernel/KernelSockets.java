package dev.loopdev.nbd.kernel;

import com.sun.jna.LastErrorException;
import dev.loopdev.Errno;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Connected pairs of unix stream sockets, one per NBD connection: the kernel gets one end as a bare descriptor
 * (netlink and NBD_SET_SOCK take descriptors), our server keeps the other as a {@link SocketChannel}.
 *
 * <p>The JDK cannot adopt a descriptor from socketpair(2) as a channel, so the pair is made through a listener on
 * a private directory (mode 0700) that exists only while the pairs are made: the kernel's end connects, the
 * server's end is accepted, then the listener and its directory are removed. Nobody else can connect in between.
 */
public final class KernelSockets {
    private static final int SUN_PATH_BYTES = 108;

    /** One connection: {@code kernelFd} is for the kernel, {@code server} for the transmission server. */
    public record Pair(int kernelFd, SocketChannel server) {
    }

    private KernelSockets() {
    }

    public static List<Pair> open(int count) throws IOException {
        Path dir = Files.createTempDirectory("loopdev-attach",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path path = dir.resolve("s");
        List<Pair> pairs = new ArrayList<>();
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            listener.bind(UnixDomainSocketAddress.of(path), count);
            for (int i = 0; i < count; i++) {
                int fd = connect(path);
                try {
                    pairs.add(new Pair(fd, listener.accept()));
                } catch (IOException e) {
                    Libc.closeQuietly(fd);
                    throw e;
                }
            }
            return pairs;
        } catch (IOException | RuntimeException e) {
            closeAll(pairs);
            throw e;
        } finally {
            Files.deleteIfExists(path);
            Files.deleteIfExists(dir);
        }
    }

    /** Closes our copies of the kernel's ends (the kernel holds its own references once connected). */
    public static void closeKernelEnds(List<Pair> pairs) {
        for (Pair p : pairs) {
            Libc.closeQuietly(p.kernelFd());
        }
    }

    public static void closeAll(List<Pair> pairs) {
        closeKernelEnds(pairs);
        for (Pair p : pairs) {
            try {
                p.server().close();
            } catch (IOException ignored) {
                // closing a socket we are abandoning
            }
        }
    }

    private static int connect(Path path) throws IOException {
        byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        if (name.length >= SUN_PATH_BYTES) {
            throw new IOException(path + ": too long for a unix socket address");
        }
        byte[] sockaddrUn = new byte[2 + SUN_PATH_BYTES];
        sockaddrUn[0] = (byte) Libc.AF_UNIX; // sun_family, little-endian u16 on every Linux we run on
        System.arraycopy(name, 0, sockaddrUn, 2, name.length);
        int fd;
        try {
            fd = Libc.socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        } catch (LastErrorException e) {
            throw new IOException("socket(AF_UNIX): " + Errno.message(e.getErrorCode()));
        }
        try {
            Libc.connect(fd, sockaddrUn, 2 + name.length + 1);
            return fd;
        } catch (LastErrorException e) {
            Libc.closeQuietly(fd);
            throw new IOException(path + ": connect: " + Errno.message(e.getErrorCode()));
        }
    }
}

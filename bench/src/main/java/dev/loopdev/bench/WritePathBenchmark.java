package dev.loopdev.bench;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.Transform;
import dev.loopdev.WritePathKind;
import dev.loopdev.XorTransform;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The core's two write paths (mapped pages, positional writes), with and without a transform, for page-sized
 * and 1 MiB requests, reading and writing a file in /dev/shm (tmpfs: the figures are the paths' own cost, not a
 * disk's). Requests walk the file sequentially and wrap, so every one touches pages the previous did not.
 *
 * <p>Throughput is in operations per second; multiply by {@code requestBytes} for bytes per second. The figure
 * that matters is the ratio between rows of the same run (mapped vs positional, none vs xor), not the absolute.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class WritePathBenchmark {
    /** Large enough that the 1 MiB rows cycle through many mapped windows, small enough for any /dev/shm. */
    private static final long FILE_BYTES = 256L << 20;

    @Param({"mapped", "positional"})
    public String writePath;

    @Param({"none", "xor"})
    public String transform;

    @Param({"4096", "1048576"})
    public int requestBytes;

    private Path file;
    private LoopDevice device;
    private ByteBuffer buffer;
    private long position;

    @Setup(Level.Trial)
    public void open() throws IOException {
        Path dir = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm") : Path.of(System.getProperty("java.io.tmpdir"));
        file = Files.createTempFile(dir, "loopdev-bench", ".img");
        preallocate(file);
        Transform t = transform.equals("xor")
                ? new XorTransform("benchmark-key".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
                : Transform.NONE;
        device = LoopDevice.open(LoopConfig.of(file).withWritePath(WritePathKind.parse(writePath)).withTransform(t));
        buffer = ByteBuffer.allocateDirect(requestBytes);
        byte[] data = new byte[requestBytes];
        new Random(1).nextBytes(data);
        buffer.put(data).flip();
    }

    /** Every page allocated up front: the benchmark measures the write path, not tmpfs allocating pages. */
    private static void preallocate(Path p) throws IOException {
        byte[] chunk = new byte[1 << 20];
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            for (long done = 0; done < FILE_BYTES; done += chunk.length) {
                f.write(chunk);
            }
        }
    }

    private long nextPosition() {
        long pos = position;
        position = (position + requestBytes) % FILE_BYTES;
        return pos;
    }

    @Benchmark
    public ByteBuffer write() throws IOException {
        device.write(buffer.clear(), nextPosition(), false);
        return buffer;
    }

    @Benchmark
    public ByteBuffer read() throws IOException {
        device.read(buffer.clear(), nextPosition());
        return buffer;
    }

    /** A write with FUA: what a client asking for durability pays per request (msync or fdatasync). */
    @Benchmark
    public ByteBuffer writeFua() throws IOException {
        device.write(buffer.clear(), nextPosition(), true);
        return buffer;
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        device.close();
        Files.deleteIfExists(file);
    }
}

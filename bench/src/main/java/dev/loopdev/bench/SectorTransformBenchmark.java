package dev.loopdev.bench;

import dev.loopdev.Transform;
import dev.loopdev.transforms.Transforms;
import java.nio.ByteBuffer;
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
 * One thread encrypting or decrypting requests through a sector transform, as a write or read of a device does.
 * Score: requests per second; times {@code requestBytes} gives bytes per second, to compare with
 * {@code openssl speed -evp aes-128-cbc -bytes 512} (one sector per openssl call), or with {@code -bytes 4096} for
 * 4096-byte sectors.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class SectorTransformBenchmark {
    @Param({"aes-cbc-plain:128", "aes-cbc-essiv:sha256:256", "aes-xts-plain64:256", "aes-xts-plain64:512",
        "serpent-cbc-plain:256"})
    public String specAndBits;

    /** 512: a sector per call, openssl speed's unit; 65536: a typical NBD request. */
    @Param({"512", "65536"})
    public int requestBytes;

    /** The transform's unit (dm-crypt's sector_size): 512, or 4096 as LUKS2 images commonly use. */
    @Param({"512"})
    public int sectorSize;

    /** heap: a frontend's request array; direct: the core's pooled buffers and the mapped pages. */
    @Param({"heap"})
    public String buffers;

    private Transform transform;
    private ByteBuffer plain;
    private ByteBuffer raw;
    private long sector;

    @Setup(Level.Trial)
    public void setUp() {
        int colon = specAndBits.lastIndexOf(':');
        byte[] key = new byte[Integer.parseInt(specAndBits.substring(colon + 1)) / 8];
        Random rnd = new Random(1);
        rnd.nextBytes(key);
        transform = Transforms.create(specAndBits.substring(0, colon), key, 0, sectorSize);
        byte[] data = new byte[requestBytes];
        rnd.nextBytes(data);
        boolean direct = buffers.equals("direct");
        plain = direct ? ByteBuffer.allocateDirect(requestBytes).put(data).clear() : ByteBuffer.wrap(data);
        raw = direct ? ByteBuffer.allocateDirect(requestBytes) : ByteBuffer.allocate(requestBytes);
        transform.encode(plain.duplicate(), raw.duplicate(), 0);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        transform.close();
    }

    @Benchmark
    public ByteBuffer encrypt() {
        sector += requestBytes / Transform.SECTOR_SIZE;
        ByteBuffer out = raw.clear();
        transform.encode(plain.clear(), out, sector);
        return out;
    }

    @Benchmark
    public ByteBuffer decrypt() {
        ByteBuffer out = plain.clear();
        transform.decode(raw.clear(), out, 0);
        return out;
    }
}

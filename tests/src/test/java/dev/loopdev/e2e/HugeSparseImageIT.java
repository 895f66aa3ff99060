package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.ShmTempDir;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 100 TiB sparse image on tmpfs, served on the mapped path, under 20 s of fio's 4 KiB random reads and writes
 * over the whole of it (writes held to 500 a second, so that the run stores only a few tens of MiB): the server's
 * resident set plus page tables (VmRSS + VmPTE) must stay under 512 MiB throughout. Before the mapped path had a
 * budget, the same run took it past 2 GB within 15 s, from per-window bookkeeping and page tables for windows that
 * were never released. The 10-minute run is {@code bench/scripts/huge-image-memory.sh}.
 */
class HugeSparseImageIT {
    private static final long IMAGE_BYTES = 100L << 40;
    private static final long BOUND_KIB = 512 * 1024;

    @TempDir(factory = ShmTempDir.class)
    Path dir;

    @BeforeEach
    void tools() {
        Tools.require("fio");
    }

    @Test
    @Timeout(120)
    void randomIoOverA100TibImageStaysUnder512MibResident() throws Exception {
        Path image = dir.resolve("huge.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(IMAGE_BYTES);
        }
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--write-path", "mapped")) {
            List<Long> samples = new ArrayList<>();
            Thread sampler = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        samples.add(rssPlusPageTablesKiB(server.pid()));
                        Thread.sleep(500);
                    } catch (InterruptedException e) {
                        return;
                    } catch (IOException e) {
                        return; // the server is gone: the test below says so
                    }
                }
            }, "rss-sampler");
            sampler.start();
            Tools.Result fio;
            try {
                fio = Tools.run(Duration.ofSeconds(90), Map.of(), List.of("fio", "--name=huge", "--ioengine=nbd",
                        "--uri=" + server.uri(), "--rw=randrw", "--rwmixread=50", "--bs=4k", "--iodepth=16",
                        "--size=" + IMAGE_BYTES, "--time_based", "--runtime=20", "--rate_iops=,500",
                        "--norandommap", "--randrepeat=0", "--output-format=json"));
            } finally {
                sampler.interrupt();
                sampler.join();
            }
            server.assertAlive();
            assertTrue(fio.exitCode() == 0, fio::describe);
            // fio's JSON lists "read", then "write", each with its "total_ios"
            java.util.regex.Matcher ios = java.util.regex.Pattern.compile("\"total_ios\" : (\\d+)")
                    .matcher(fio.stdout());
            assertTrue(ios.find(), fio::describe);
            long readIos = Long.parseLong(ios.group(1));
            assertTrue(ios.find(), fio::describe);
            long writeIos = Long.parseLong(ios.group(1));
            long worst = samples.stream().mapToLong(Long::longValue).max().orElseThrow();
            System.out.println("100 TiB image, 20 s: " + readIos + " reads, " + writeIos + " writes; VmRSS+VmPTE "
                    + samples.stream().map(k -> k / 1024 + "M").toList());
            assertTrue(readIos > 1000 && writeIos > 1000, "too little I/O to show anything: " + readIos + " reads, "
                    + writeIos + " writes");
            assertTrue(samples.size() >= 20, "only " + samples.size() + " samples");
            assertTrue(worst < BOUND_KIB, "VmRSS + VmPTE reached " + worst / 1024 + " MiB");
            server.stop();
        }
    }

    /** VmRSS + VmPTE of a process, in KiB. */
    static long rssPlusPageTablesKiB(long pid) throws IOException {
        long kib = 0;
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:") || line.startsWith("VmPTE:")) {
                kib += Long.parseLong(line.substring(6).replace("kB", "").trim());
            }
        }
        return kib;
    }
}

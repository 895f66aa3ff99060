package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import dev.loopdev.nbd.Nbd;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real server, with its defaults (a 10 s handshake limit, 4096 clients), against 2,000 connections that send
 * nothing and 500 that send a handshake a byte at a time, reconnecting whenever the server closes them, for about
 * two and a half handshake limits. Throughout, an honest client connects, negotiates and reads known data, in under
 * a second each time (it takes a few milliseconds when nothing else runs; the bound is generous for a loaded 2-core
 * host), and nbdinfo gets through. The server's thread count and resident set stay bounded, and once the attackers
 * leave, every socket and thread they cost is released.
 */
class AdmissionIT {
    private static final long IMAGE_BYTES = 16 << 20;
    private static final int IDLE = 2000;
    private static final int SLOW = 500;
    private static final long ATTACK_MILLIS = 25_000;
    private static final long HONEST_BOUND_MILLIS = 1_000;

    @TempDir
    Path dir;

    @Test
    @Timeout(180)
    void idleAndSlowClientsNeverKeepAnHonestOneWaiting() throws Exception {
        Path image = Images.random(dir, "disk.img", IMAGE_BYTES, 21);
        byte[] known = Images.slice(Files.readAllBytes(image), 1 << 20, 65536);
        try (LoopdevServer server = LoopdevServer.tcp(dir, image)) {
            InetSocketAddress address = new InetSocketAddress("127.0.0.1", server.port());
            for (int i = 0; i < 5; i++) {
                honest(address, known); // warm up the server's JIT before the baseline
            }
            Proc before = Proc.of(server.pid());
            Attackers attackers = new Attackers(address);
            Thread attack = new Thread(attackers, "attackers");
            attack.start();
            List<Long> honestMillis = new ArrayList<>();
            Proc worst = before;
            long start = System.nanoTime();
            try {
                attackers.awaitConnected();
                while (System.nanoTime() - start < ATTACK_MILLIS * 1_000_000) {
                    honestMillis.add(honest(address, known));
                    if (honestMillis.size() % 20 == 0) {
                        Tools.ok("nbdinfo", "--size", server.uri());
                    }
                    worst = worst.max(Proc.of(server.pid()));
                    Thread.sleep(200);
                }
            } finally {
                attackers.stop.set(true);
                attack.join(30_000);
            }
            server.assertAlive();
            if (attackers.failure.get() != null) {
                throw new AssertionError("the attackers failed", attackers.failure.get());
            }
            long slowest = honestMillis.stream().mapToLong(Long::longValue).max().orElseThrow();
            System.out.println("honest clients: " + honestMillis.size() + ", slowest " + slowest + " ms, all "
                    + honestMillis + "; attackers connected " + attackers.connects + " times, closed by the server "
                    + attackers.closedByServer + " times; server before " + before + ", at worst " + worst);
            assertTrue(honestMillis.size() >= 50, "only " + honestMillis.size() + " honest clients");
            assertTrue(slowest < HONEST_BOUND_MILLIS, "an honest client took " + slowest + " ms: " + honestMillis);
            assertTrue(attackers.closedByServer >= IDLE + SLOW,
                    "the handshake limit closed only " + attackers.closedByServer + " attackers");
            assertTrue(worst.fds() >= before.fds() + IDLE + SLOW - 100, "the attackers were not all connected: "
                    + worst);
            assertTrue(worst.threads() <= before.threads() + 8, "threads: " + before + " -> " + worst);
            assertTrue(worst.rssKiB() <= before.rssKiB() + 200 * 1024, "resident set: " + before + " -> " + worst);

            Proc after = Proc.of(server.pid());
            long deadline = System.nanoTime() + 15_000_000_000L;
            while (after.fds() > before.fds() + 2 && System.nanoTime() < deadline) {
                Thread.sleep(200);
                after = Proc.of(server.pid());
            }
            assertTrue(after.fds() <= before.fds() + 2, "sockets left after the attackers went: " + before + " -> "
                    + after);
            assertTrue(after.threads() <= before.threads() + 4, "threads left: " + before + " -> " + after);
            honest(address, known);
            server.stop();
        }
    }

    /** Connects, negotiates, reads 64 KiB of known data; returns the milliseconds it took. */
    private static long honest(InetSocketAddress address, byte[] known) throws IOException {
        long t0 = System.nanoTime();
        try (NbdTestClient c = NbdTestClient.connect(address)) {
            c.go("", false);
            assertArrayEquals(known, c.read(1 << 20, known.length), "known data");
            c.disconnect();
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    /** Threads, open descriptors and resident set of a process, from /proc. */
    private record Proc(int threads, int fds, long rssKiB) {
        static Proc of(long pid) throws IOException {
            int threads = 0;
            long rss = 0;
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("Threads:")) {
                    threads = Integer.parseInt(line.substring(8).trim());
                } else if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.substring(6).replace("kB", "").trim());
                }
            }
            String[] fds = new java.io.File("/proc/" + pid + "/fd").list();
            return new Proc(threads, fds == null ? 0 : fds.length, rss);
        }

        Proc max(Proc o) {
            return new Proc(Math.max(threads, o.threads), Math.max(fds, o.fds), Math.max(rssKiB, o.rssKiB));
        }

        @Override
        public String toString() {
            return threads + " threads, " + fds + " fds, " + rssKiB / 1024 + " MiB resident";
        }
    }

    /**
     * {@link #IDLE} connections that send nothing and {@link #SLOW} that send client flags and an option a byte
     * every 200 ms or so (the option is never finished); each is replaced as soon as the server closes it.
     */
    private static final class Attackers implements Runnable {
        private static final byte[] SLOW_BYTES = ByteBuffer.allocate(4 + 16 + 64).putInt(Nbd.FLAG_C_FIXED_NEWSTYLE)
                .putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(64).array();

        final InetSocketAddress address;
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final Object connected = new Object();
        private boolean allConnected;
        final SocketChannel[] sockets = new SocketChannel[IDLE + SLOW];
        final int[] sent = new int[IDLE + SLOW];
        volatile int connects;
        volatile int closedByServer;

        Attackers(InetSocketAddress address) {
            this.address = address;
        }

        void awaitConnected() throws InterruptedException {
            synchronized (connected) {
                long deadline = System.currentTimeMillis() + 60_000;
                while (!allConnected && failure.get() == null && System.currentTimeMillis() < deadline) {
                    connected.wait(1_000);
                }
            }
            assertTrue(allConnected, "the attackers could not connect");
        }

        @Override
        public void run() {
            Random r = new Random(4);
            ByteBuffer sink = ByteBuffer.allocate(4096);
            try {
                for (int i = 0; i < sockets.length; i++) {
                    connect(i);
                }
                synchronized (connected) {
                    allConnected = true;
                    connected.notifyAll();
                }
                for (int tick = 0; !stop.get(); tick++) {
                    for (int i = 0; i < sockets.length; i++) {
                        boolean slow = i >= IDLE;
                        if (!slow && (i + tick) % 25 != 0) {
                            continue; // an idle one is only checked every half second
                        }
                        boolean closed;
                        try {
                            closed = sockets[i].read(sink.clear()) < 0; // the greeting, then the end
                            if (!closed && slow && (i + tick) % 10 == 0 && sent[i] < SLOW_BYTES.length) {
                                sockets[i].write(ByteBuffer.wrap(SLOW_BYTES, sent[i]++, 1));
                            }
                        } catch (IOException e) {
                            closed = true; // reset
                        }
                        if (closed) {
                            closedByServer++;
                            sockets[i].close();
                            connect(i);
                        }
                    }
                    Thread.sleep(20 + r.nextInt(3));
                }
            } catch (Throwable t) {
                failure.set(t);
                synchronized (connected) {
                    connected.notifyAll();
                }
            } finally {
                for (SocketChannel s : sockets) {
                    try {
                        if (s != null) {
                            s.close();
                        }
                    } catch (IOException ignored) {
                        // leaving anyway
                    }
                }
            }
        }

        private void connect(int i) throws IOException {
            SocketChannel s = SocketChannel.open(address);
            s.configureBlocking(false);
            sockets[i] = s;
            sent[i] = 0;
            connects++;
        }
    }
}

package dev.loopdev.luks;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.security.SecureRandom;

/**
 * How new keyslots derive their keys, as cryptsetup's {@code --pbkdf}, {@code --iter-time},
 * {@code --pbkdf-force-iterations}, {@code --pbkdf-memory}, {@code --pbkdf-parallel} and {@code --hash} choose it.
 * {@link #calibrate} benchmarks the way cryptsetup's {@code crypt_pbkdf_perf} does, so that a keyslot costs about
 * {@code iterTimeMs} to open here: PBKDF2 by CPU time from 2^15 iterations up, Argon2 by wall-clock time (its lanes
 * run in parallel), raising memory first and passes after, until it takes between 5% less and 10% more.
 *
 * @param type            pbkdf2, argon2i or argon2id
 * @param hash            PBKDF2's hash (and the AF splitter's and the digest's)
 * @param iterTimeMs      the time one unlock should take
 * @param forceIterations if positive: skip the benchmark, use this many iterations (Argon2: passes)
 * @param memoryKiB       Argon2's memory at most (the benchmark may use less)
 * @param parallel        Argon2's lanes (at most the CPUs online, unless forced)
 */
public record KdfSettings(String type, String hash, int iterTimeMs, long forceIterations, int memoryKiB,
                          int parallel) {
    public static final int DEFAULT_ITER_TIME_MS = 2000;
    public static final int DEFAULT_MEMORY_KIB = 1024 * 1024;
    public static final int MAX_MEMORY_KIB = 4 * 1024 * 1024;
    public static final int DEFAULT_PARALLEL = 4;
    static final int MIN_PBKDF2_ITERATIONS = 1000;
    static final int MIN_ARGON2_TIME = 4;
    private static final int DIGEST_MS = 125;

    public KdfSettings {
        type = Kdf.checkType(type);
        hash = Hashes.check(hash);
        if (iterTimeMs <= 0 && forceIterations <= 0) {
            throw new LuksException("--iter-time must be positive");
        }
        if (type.equals("pbkdf2") && forceIterations > 0 && forceIterations < MIN_PBKDF2_ITERATIONS) {
            throw new LuksException("forced iteration count is too low for pbkdf2 (minimum is "
                    + MIN_PBKDF2_ITERATIONS + ")");
        }
        if (!type.equals("pbkdf2")) {
            if (forceIterations > 0 && forceIterations < MIN_ARGON2_TIME) {
                throw new LuksException("forced iteration count is too low for " + type + " (minimum is "
                        + MIN_ARGON2_TIME + ")");
            }
            if (memoryKiB < 32 || memoryKiB > MAX_MEMORY_KIB) {
                throw new LuksException("--pbkdf-memory must be between 32 and " + MAX_MEMORY_KIB + " KiB, not "
                        + memoryKiB);
            }
            if (parallel < 1 || parallel > 4) {
                throw new LuksException("--pbkdf-parallel must be between 1 and 4, not " + parallel);
            }
        }
    }

    /** cryptsetup 2.6's defaults: argon2id for LUKS2, pbkdf2 for LUKS1, sha256, 2 s, 1 GiB, 4 lanes. */
    public static KdfSettings defaults(int luksVersion) {
        return new KdfSettings(luksVersion == 1 ? "pbkdf2" : "argon2id", "sha256", DEFAULT_ITER_TIME_MS, 0,
                DEFAULT_MEMORY_KIB, DEFAULT_PARALLEL);
    }

    public KdfSettings withType(String t) {
        return new KdfSettings(t, hash, iterTimeMs, forceIterations, memoryKiB, parallel);
    }

    public KdfSettings withHash(String h) {
        return new KdfSettings(type, h, iterTimeMs, forceIterations, memoryKiB, parallel);
    }

    /** The KDF for a new keyslot whose key has {@code keyBytes}: forced, or benchmarked to {@link #iterTimeMs}. */
    Kdf calibrate(int keyBytes) {
        if (type.equals("pbkdf2")) {
            long iterations = forceIterations > 0 ? forceIterations
                    : Math.max(MIN_PBKDF2_ITERATIONS, pbkdf2PerSecond(hash, keyBytes) * iterTimeMs / 1000);
            return new Kdf.Pbkdf2(hash, Math.min(iterations, Integer.MAX_VALUE));
        }
        boolean id = type.equals("argon2id");
        if (forceIterations > 0) {
            return new Kdf.Argon2(id, (int) Math.min(forceIterations, Integer.MAX_VALUE), memoryKiB, parallel);
        }
        int lanes = Math.min(parallel, Runtime.getRuntime().availableProcessors());
        int memory = (int) Math.min(memoryKiB, Math.max(32, physicalKiB() / 2));
        return argon2Benchmark(id, keyBytes, lanes, memory);
    }

    /**
     * PBKDF2 iterations for the digest of the volume key (LUKS1's mk_digest, LUKS2's digest): 125 ms' worth, or the
     * minimum when the keyslot's iterations were forced (no benchmark at all), as cryptsetup does.
     */
    long digestIterations(int keyBytes) {
        if (forceIterations > 0) {
            return MIN_PBKDF2_ITERATIONS;
        }
        return Math.max(MIN_PBKDF2_ITERATIONS, pbkdf2PerSecond(hash, keyBytes) * DIGEST_MS / 1000);
    }

    /** cryptsetup's {@code crypt_pbkdf_check}: iterations per second by CPU time, doubling until past 500 ms. */
    static long pbkdf2PerSecond(String hash, int keyBytes) {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        byte[] salt = new byte[32];
        byte[] pass = {'f', 'o', 'o'};
        long iterations = 1 << 15;
        for (int step = 0; ; step++) {
            long start = threads.getCurrentThreadCpuTime();
            new Kdf.Pbkdf2(hash, iterations).derive(pass, salt, keyBytes);
            long ms = (threads.getCurrentThreadCpuTime() - start) / 1_000_000;
            if (ms > 500 || step > 10 || iterations > Integer.MAX_VALUE / 16) {
                return iterations * 1000 / Math.max(ms, 1);
            }
            iterations <<= ms <= 62 ? 4 : ms <= 125 ? 3 : ms <= 250 ? 2 : 1;
        }
    }

    /** cryptsetup's {@code crypt_argon2_check}: find small parameters taking 250 ms, then aim at the target. */
    private Kdf.Argon2 argon2Benchmark(boolean id, int keyBytes, int lanes, int maxMemory) {
        int minMemory = Math.max(lanes * 8, Math.min(64 * 1024, maxMemory));
        long target = iterTimeMs;
        long time = MIN_ARGON2_TIME;
        long memory = minMemory;
        long ms;
        while (true) {
            ms = argon2Ms(id, time, memory, lanes, keyBytes, 3, 250);
            if (ms >= 250) {
                break;
            }
            if (memory == maxMemory) {
                long next = ms < 10 ? time * 16 : time * 250 / Math.max(ms, 1);
                if (next == time) {
                    break;
                }
                time = next;
            } else {
                long next = ms < 10 ? memory * 16 : memory * 250 / Math.max(ms, 1);
                if (next == memory) {
                    break;
                }
                memory = Math.min(next, maxMemory);
            }
        }
        long atLeast = target * 95 / 100;
        long atMost = target * 110 / 100;
        while (true) {
            long oldTime = time;
            long oldMemory = memory;
            boolean last = false;
            if (ms > target) {
                long newTime = time * target / ms;
                if (newTime < MIN_ARGON2_TIME) {
                    memory = time * memory * target / (MIN_ARGON2_TIME * ms);
                    time = MIN_ARGON2_TIME;
                    if (memory < minMemory) {
                        memory = minMemory;
                        last = true;
                    }
                } else {
                    time = newTime;
                }
            } else {
                long newMemory = memory * target / Math.max(ms, 1);
                if (newMemory > maxMemory) {
                    time = time * memory * target / (maxMemory * Math.max(ms, 1));
                    memory = maxMemory;
                    if (time <= MIN_ARGON2_TIME) {
                        time = MIN_ARGON2_TIME;
                        last = true;
                    }
                } else if (newMemory < minMemory) {
                    memory = minMemory;
                    last = true;
                } else {
                    memory = newMemory;
                }
            }
            if (last || (oldTime == time && oldMemory == memory)) {
                break;
            }
            ms = argon2Ms(id, time, memory, lanes, keyBytes, 1, atLeast);
            if (ms >= atLeast && ms <= atMost) {
                break;
            }
        }
        return new Kdf.Argon2(id, (int) time, (int) memory, lanes);
    }

    private static long argon2Ms(boolean id, long time, long memory, int lanes, int keyBytes, int samples,
                                 long atLeast) {
        byte[] salt = new byte[32];
        new SecureRandom().nextBytes(salt);
        long best = Long.MAX_VALUE;
        for (int i = 0; i < samples; i++) {
            long start = System.nanoTime();
            byte[] k = new Kdf.Argon2(id, (int) time, (int) memory, lanes).derive(new byte[] {'f', 'o', 'o'}, salt,
                    keyBytes);
            java.util.Arrays.fill(k, (byte) 0);
            long ms = (System.nanoTime() - start) / 1_000_000;
            best = Math.min(best, ms);
            if (ms < atLeast) {
                break;
            }
        }
        return best;
    }

    /** MemTotal in KiB (cryptsetup caps Argon2's memory at half of it), or the default when unknown. */
    private static long physicalKiB() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            return 2L * DEFAULT_MEMORY_KIB;
        }
        return 2L * DEFAULT_MEMORY_KIB;
    }
}

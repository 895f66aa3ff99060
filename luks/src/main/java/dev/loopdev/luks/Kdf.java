package dev.loopdev.luks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.generators.PKCS5S2ParametersGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * How a passphrase becomes a keyslot's key: PBKDF2 with a hash (LUKS1, and LUKS2's digests), or Argon2i/Argon2id
 * (LUKS2 keyslots). Runs on the system's libcrypto and libargon2 as cryptsetup does, or on Bouncy Castle where they
 * are missing (see {@link NativeKdf}).
 */
sealed interface Kdf permits Kdf.Pbkdf2, Kdf.Argon2 {

    /** Derives {@code keyBytes} bytes; the caller wipes them. */
    byte[] derive(byte[] passphrase, byte[] salt, int keyBytes);

    /** The LUKS2 {@code kdf} object without its salt (the caller adds it). */
    Map<String, Object> toJson();

    /** The {@code type} as LUKS2 names it. */
    String type();

    /** PBKDF2-HMAC ({@code iterations} at least 1). */
    record Pbkdf2(String hash, long iterations) implements Kdf {
        public Pbkdf2 {
            hash = Hashes.check(hash);
            if (iterations < 1 || iterations > Integer.MAX_VALUE) {
                throw new LuksException("PBKDF2 iteration count out of range: " + iterations);
            }
        }

        @Override
        public byte[] derive(byte[] passphrase, byte[] salt, int keyBytes) {
            byte[] out = NativeKdf.pbkdf2(hash, passphrase, salt, (int) iterations, keyBytes);
            if (out != null) {
                return out;
            }
            PKCS5S2ParametersGenerator g = new PKCS5S2ParametersGenerator(Hashes.bc(hash));
            g.init(passphrase, salt, (int) iterations);
            KeyParameter k = (KeyParameter) g.generateDerivedParameters(keyBytes * 8);
            java.util.Arrays.fill(g.getPassword(), (byte) 0);
            return k.getKey();
        }

        @Override
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", "pbkdf2");
            m.put("hash", hash);
            m.put("iterations", Json.Num.of(iterations));
            return m;
        }

        @Override
        public String type() {
            return "pbkdf2";
        }
    }

    /**
     * Argon2 (RFC 9106, version 0x13), as LUKS2 keyslots use it: no secret, no associated data.
     *
     * @param id        Argon2id; otherwise Argon2i
     * @param time      passes over memory (cryptsetup's "time cost", at least 1)
     * @param memoryKiB memory in KiB (at least 8 per lane)
     * @param parallel  lanes, 1 to 16777215 (cryptsetup writes at most 4)
     */
    record Argon2(boolean id, int time, int memoryKiB, int parallel) implements Kdf {
        public Argon2 {
            if (time < 1 || parallel < 1 || parallel > 0xFFFFFF || memoryKiB < 8 * parallel) {
                throw new LuksException("Argon2 parameters out of range: time " + time + ", memory " + memoryKiB
                        + " KiB, " + parallel + " lanes");
            }
        }

        @Override
        public byte[] derive(byte[] passphrase, byte[] salt, int keyBytes) {
            checkMemory(memoryKiB);
            byte[] out = NativeKdf.argon2(id, passphrase, salt, time, memoryKiB, parallel, keyBytes);
            if (out != null) {
                return out;
            }
            Argon2Parameters p = new Argon2Parameters.Builder(id ? Argon2Parameters.ARGON2_id
                    : Argon2Parameters.ARGON2_i).withVersion(Argon2Parameters.ARGON2_VERSION_13).withSalt(salt)
                    .withIterations(time).withMemoryAsKB(memoryKiB).withParallelism(parallel).build();
            Argon2BytesGenerator g = new Argon2BytesGenerator();
            g.init(p);
            out = new byte[keyBytes];
            g.generateBytes(passphrase, out);
            return out;
        }

        @Override
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", type());
            m.put("time", Json.Num.of(time));
            m.put("memory", Json.Num.of(memoryKiB));
            m.put("cpus", Json.Num.of(parallel));
            return m;
        }

        @Override
        public String type() {
            return id ? "argon2id" : "argon2i";
        }
    }

    /** A LUKS2 keyslot's {@code kdf} object. */
    static Kdf fromJson(Map<String, Object> kdf, String where) {
        String type = Json.string(kdf, "type", where);
        switch (type) {
            case "pbkdf2":
                return new Pbkdf2(Json.string(kdf, "hash", where), Json.integer(kdf, "iterations", where));
            case "argon2i":
            case "argon2id":
                return new Argon2(type.equals("argon2id"), intField(kdf, "time", where),
                        intField(kdf, "memory", where), intField(kdf, "cpus", where));
            default:
                throw new LuksException(where + ": unsupported key derivation '" + type + "'");
        }
    }

    private static int intField(Map<String, Object> o, String key, String where) {
        long v = Json.integer(o, key, where);
        if (v < 0 || v > 0xFFFF_FFFFL) {
            throw new LuksException(where + ": \"" + key + "\" out of range: " + v);
        }
        return (int) Math.min(v, Integer.MAX_VALUE);
    }

    /** Names as the command line takes them: pbkdf2, argon2i, argon2id. */
    static String checkType(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (!n.equals("pbkdf2") && !n.equals("argon2i") && !n.equals("argon2id")) {
            throw new LuksException("unknown PBKDF '" + name + "' (known: argon2id, argon2i, pbkdf2)");
        }
        return n;
    }

    /**
     * Refuses, before allocating it, Argon2 memory the machine cannot give: more than the memory available now
     * (MemAvailable), or for the Java fallback more than the heap can hold.
     */
    static void checkMemory(long memoryKiB) {
        long available = availableKiB();
        if (available > 0 && memoryKiB > available) {
            throw new LuksException("Argon2 needs " + memoryKiB + " KiB of memory, and only " + available
                    + " KiB are available");
        }
        if (!NativeKdf.hasArgon2()) {
            long heapKiB = Runtime.getRuntime().maxMemory() / 1024;
            if (memoryKiB > heapKiB * 9 / 10) {
                throw new LuksException("Argon2 needs " + memoryKiB + " KiB of memory, more than the Java heap ("
                        + heapKiB + " KiB); install libargon2 or raise -Xmx");
            }
        }
    }

    /** MemAvailable from /proc/meminfo in KiB, or -1 when unknown. */
    static long availableKiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}

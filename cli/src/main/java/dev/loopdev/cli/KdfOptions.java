package dev.loopdev.cli;

import dev.loopdev.luks.KdfSettings;
import picocli.CommandLine.Option;

/** How new keyslots derive their keys: cryptsetup's --pbkdf options, with its 2.6 defaults. */
final class KdfOptions {
    @Option(names = "--pbkdf", paramLabel = "argon2id|argon2i|pbkdf2",
            description = "Key derivation of new keyslots (default: argon2id for LUKS2, pbkdf2 for LUKS1).")
    String type;

    @Option(names = "--iter-time", paramLabel = "MS", defaultValue = "2000",
            description = "How long unlocking a new keyslot should take here, benchmarked (default 2000 ms).")
    int iterTimeMs;

    @Option(names = "--pbkdf-force-iterations", paramLabel = "N", defaultValue = "0",
            description = "No benchmark: this many iterations (Argon2: passes), at least 1000 (pbkdf2) or 4 (argon2).")
    long forceIterations;

    @Option(names = "--pbkdf-memory", paramLabel = "KIB", defaultValue = "1048576",
            description = "Argon2's memory at most, in KiB (default 1 GiB, at most half the machine's).")
    int memoryKiB;

    @Option(names = "--pbkdf-parallel", paramLabel = "N", defaultValue = "4",
            description = "Argon2's lanes (default 4, at most the CPUs online).")
    int parallel;

    /** The settings for a keyslot of a LUKS{@code luksVersion} image, PBKDF2 and the AF splitter on {@code hash}. */
    KdfSettings settings(int luksVersion, String hash) {
        String t = type != null ? type : luksVersion == 1 ? "pbkdf2" : "argon2id";
        return new KdfSettings(t, hash, iterTimeMs, forceIterations, memoryKiB, parallel);
    }
}

package dev.loopdev.cli;

import dev.loopdev.transforms.KeySource;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where the passphrase or key comes from, as cryptsetup's options say it; the rules are {@link KeySource}'s. */
final class KeyOptions {
    @Option(names = "--key-file", paramLabel = "FILE",
            description = "Read the passphrase (LUKS) or raw key (plain mode) from FILE; '-' is standard input.")
    Path keyFile;

    @Option(names = "--keyfile-offset", paramLabel = "BYTES", defaultValue = "0",
            description = "Skip this many bytes of the key file.")
    long keyfileOffset;

    @Option(names = "--keyfile-size", paramLabel = "BYTES", defaultValue = "0",
            description = "Read at most this many bytes of the key file (default: all of it, up to 8 MiB).")
    long keyfileSize;

    @Option(names = "--passphrase-stdin",
            description = "Read the passphrase from standard input, up to the first newline.")
    boolean passphraseStdin;

    KeySource source() {
        return new KeySource(keyFile, keyfileOffset, keyfileSize, passphraseStdin);
    }
}

package dev.loopdev.cli;

import dev.loopdev.transforms.KeySource;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where a new passphrase comes from ({@code add-key}, {@code change-key}), as cryptsetup's --new-keyfile options. */
final class NewKeyOptions {
    @Option(names = {"--new-key-file", "--new-keyfile"}, paramLabel = "FILE",
            description = "Read the new passphrase from FILE ('-' is standard input).")
    Path keyFile;

    @Option(names = "--new-keyfile-offset", paramLabel = "BYTES", defaultValue = "0",
            description = "Skip this many bytes of the new key file.")
    long keyfileOffset;

    @Option(names = "--new-keyfile-size", paramLabel = "BYTES", defaultValue = "0",
            description = "Read at most this many bytes of the new key file.")
    long keyfileSize;

    @Option(names = "--new-passphrase-stdin", description = "Read the new passphrase from standard input, up to the "
            + "first newline (after the current one, with --passphrase-stdin too).")
    boolean passphraseStdin;

    KeySource source(Path positional) {
        if (positional != null && keyFile != null) {
            throw new IllegalArgumentException("give the new key file once: as an argument or as --new-key-file");
        }
        return new KeySource(positional != null ? positional : keyFile, keyfileOffset, keyfileSize, passphraseStdin);
    }
}

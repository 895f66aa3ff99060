package dev.loopdev.cli;

import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** What a new LUKS header is made with besides its cipher: cryptsetup luksFormat's options of the same names. */
final class LuksFormatOptions {
    @Option(names = "--sector-size", paramLabel = "BYTES", defaultValue = "0",
            description = "LUKS2 encryption sector: 512, 1024, 2048 or 4096 (default: 4096 when the data is a multiple "
                    + "of it, as cryptsetup picks for a file on a 4 KiB file system, else 512).")
    int sectorSize;

    @Option(names = "--label", paramLabel = "LABEL", description = "The LUKS2 label.")
    String label;

    @Option(names = "--uuid", paramLabel = "UUID", description = "The UUID (default: a random one).")
    String uuid;

    @Mixin
    KdfOptions kdf = new KdfOptions();
}

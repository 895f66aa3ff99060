package dev.loopdev.cli;

import dev.loopdev.luks.LuksDevices;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How a device finds its LUKS header, as cryptsetup's open options; the rules are {@link LuksDevices}'. */
final class LuksOptions {
    @Option(names = "--luks", paramLabel = "auto|on|off", defaultValue = "auto",
            description = "auto: a LUKS1 or LUKS2 header at the start of the image (or --header) is used; on: one is "
                    + "required; off: never look for one.")
    String mode;

    @Option(names = "--header", paramLabel = "FILE",
            description = "A detached LUKS header (cryptsetup --header): the image is then all data.")
    Path header;

    @Option(names = "--key-slot", paramLabel = "N", defaultValue = "-1",
            description = "Try only this keyslot.")
    int keySlot;

    LuksDevices.Mode mode() {
        return LuksDevices.Mode.parse(mode);
    }
}

package dev.loopdev.cli;

import picocli.CommandLine.Command;

/** {@code loopdev encrypt SRC DST}: a plain image to an encrypted one. */
@Command(name = "encrypt", mixinStandardHelpOptions = true,
        description = {"Encrypt an image offline, as a device with the same --transform and key would write it.",
            "Default cipher, key size and hash are cryptsetup plain mode's: aes-cbc-essiv:sha256, 256, ripemd160."})
final class EncryptCommand extends ConvertCommand {
    @Override
    boolean encrypt() {
        return true;
    }
}

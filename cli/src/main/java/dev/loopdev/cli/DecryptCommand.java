package dev.loopdev.cli;

import picocli.CommandLine.Command;

/** {@code loopdev decrypt SRC DST}: an encrypted image back to a plain one. */
@Command(name = "decrypt", mixinStandardHelpOptions = true,
        description = {"Decrypt an image offline. All-zero plaintext blocks become holes in DST.",
            "A wrong key cannot be detected (plain mode has no header): it yields garbage."})
final class DecryptCommand extends ConvertCommand {
    @Override
    boolean encrypt() {
        return false;
    }
}

package dev.loopdev.cli;

import dev.loopdev.transforms.PlainTransform;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A headerless transform and its key, as {@code cryptsetup open --type plain} takes them; the rules are
 * {@link PlainTransform}'s. Keys never come from the command line.
 */
final class TransformOptions {
    @Option(names = {"--transform", "--cipher"}, paramLabel = "SPEC",
            description = "none, xor, or a cipher in cryptsetup's syntax: aes-cbc-plain (cryptoloop), aes-cbc-plain64, "
                    + "aes-cbc-essiv:sha256, aes-xts-plain64, twofish-cbc-plain, serpent-cbc-plain, ...")
    String spec;

    @Option(names = "--key-size", paramLabel = "BITS",
            description = "Key size: 128, 192 or 256; for XTS 256 or 512 (two keys). Default 256, as cryptsetup plain.")
    Integer keyBits;

    @Option(names = "--hash", paramLabel = "HASH",
            description = "How a passphrase becomes the key, as cryptsetup plain mode: ripemd160 (default), sha256, "
                    + "sha512, sha1, plain (the passphrase itself). Not applied to a --key-file.")
    String hash;

    @Option(names = "--iv-offset", paramLabel = "SECTORS", defaultValue = "0",
            description = "Added to the sector number (counted from the start of the file) for the IV. With "
                    + "--offset O, cryptsetup's --offset O/512 --skip S is --iv-offset S-O/512.")
    long ivOffset;

    @Mixin
    KeyOptions key = new KeyOptions();

    PlainTransform request() {
        return new PlainTransform(spec, keyBits, hash, ivOffset, key.source());
    }

    /** Plain-mode options that a LUKS header decides instead, by name, for the error message; null if none given. */
    String plainOptionGiven() {
        return spec != null ? "--transform" : keyBits != null ? "--key-size" : hash != null ? "--hash"
                : ivOffset != 0 ? "--iv-offset" : null;
    }
}

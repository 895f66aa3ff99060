package dev.loopdev.cli;

import dev.loopdev.Transform;
import dev.loopdev.transforms.CipherSpec;
import dev.loopdev.transforms.PlainModeKeys;
import dev.loopdev.transforms.Transforms;
import java.io.ByteArrayOutputStream;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import picocli.CommandLine.Option;

/**
 * The transform and its key, as {@code cryptsetup open --type plain} takes them. Keys never come from the command
 * line: a key file, a passphrase typed at the terminal, or one line of standard input.
 */
final class TransformOptions {
    private static final int MAX_PASSPHRASE_BYTES = 8192;

    @Option(names = "--transform", paramLabel = "SPEC",
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

    @Option(names = "--key-file", paramLabel = "FILE",
            description = "Raw key: its first key-size/8 bytes (xor: the whole file, 1 to 32 bytes).")
    Path keyFile;

    @Option(names = "--passphrase-stdin",
            description = "Read the passphrase from standard input, up to the first newline.")
    boolean passphraseStdin;

    /** The spec given, or {@code dflt}. */
    String spec(String dflt) {
        return spec == null ? dflt : spec;
    }

    /** What an interrupted conversion must be resumed with; never key material. */
    String describe(String dflt) {
        return spec(dflt) + " key-size=" + keyBits + " iv-offset=" + ivOffset;
    }

    /**
     * Makes the transform, asking for the key if it must.
     *
     * @param offsetBytes the device's offset in the file: sector numbers count from the file's start
     * @param verify      ask for a typed passphrase twice (when creating an image)
     */
    Transform create(String dflt, long offsetBytes, boolean verify) throws IOException {
        String s = spec(dflt);
        if (!Transforms.needsKey(s)) {
            if (keyFile != null || passphraseStdin || keyBits != null || hash != null || ivOffset != 0) {
                throw new IllegalArgumentException("key and IV options need a --transform");
            }
            return Transform.NONE;
        }
        if (keyFile != null && passphraseStdin) {
            throw new IllegalArgumentException("give either --key-file or --passphrase-stdin");
        }
        if (s.equals("xor")) {
            return xor();
        }
        CipherSpec cs = CipherSpec.parse(s);
        int bits = keyBits == null ? PlainModeKeys.DEFAULT_KEY_BITS : keyBits;
        cs.checkKeyBytes(bits / 8);
        if (bits % 8 != 0) {
            throw new IllegalArgumentException("--key-size must be a multiple of 8");
        }
        if (offsetBytes / Transform.SECTOR_SIZE + ivOffset < 0) {
            throw new IllegalArgumentException("--iv-offset makes the first IV sector negative");
        }
        String h = hash == null ? PlainModeKeys.DEFAULT_HASH : hash;
        if (!PlainModeKeys.isKnownHash(h)) {
            throw new IllegalArgumentException("unknown --hash '" + h + "'");
        }
        byte[] key = null;
        try {
            if (keyFile != null) {
                if (hash != null) {
                    System.err.println("loopdev: warning: --hash is ignored with a --key-file (cryptsetup does the same)");
                }
                key = PlainModeKeys.readKeyFile(keyFile, bits / 8);
            } else {
                byte[] pass = passphrase(verify);
                try {
                    key = PlainModeKeys.hashPassphrase(h, pass, bits / 8);
                } finally {
                    Arrays.fill(pass, (byte) 0);
                }
            }
            return Transforms.create(cs.toString(), key, ivOffset);
        } finally {
            if (key != null) {
                Arrays.fill(key, (byte) 0);
            }
        }
    }

    /** The loop driver's xor: the key file's bytes, or the passphrase's, at most 32. */
    private Transform xor() throws IOException {
        if (ivOffset != 0 || hash != null) {
            throw new IllegalArgumentException("xor takes no --iv-offset or --hash");
        }
        byte[] key = keyFile != null ? Files.readAllBytes(keyFile) : passphrase(false);
        try {
            int n = keyBits == null ? key.length : keyBits / 8;
            if (n > key.length) {
                throw new IllegalArgumentException("the key is shorter than --key-size");
            }
            return Transforms.create("xor", Arrays.copyOf(key, Math.min(n, 32)));
        } finally {
            Arrays.fill(key, (byte) 0);
        }
    }

    private byte[] passphrase(boolean verify) throws IOException {
        if (passphraseStdin) {
            return readLine(System.in);
        }
        Console console = System.console();
        if (console == null) {
            throw new IllegalArgumentException("a key is needed: --key-file FILE, --passphrase-stdin, or run on a terminal");
        }
        char[] first = console.readPassword("Enter passphrase: ");
        if (first == null) {
            throw new IllegalArgumentException("no passphrase given");
        }
        try {
            if (verify) {
                char[] again = console.readPassword("Verify passphrase: ");
                boolean same = again != null && Arrays.equals(first, again);
                if (again != null) {
                    Arrays.fill(again, '\0');
                }
                if (!same) {
                    throw new IllegalArgumentException("passphrases do not match");
                }
            }
            return utf8(first);
        } finally {
            Arrays.fill(first, '\0');
        }
    }

    /** Bytes up to the first newline or the end of input, without the newline. */
    static byte[] readLine(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int b = in.read(); b >= 0 && b != '\n'; b = in.read()) {
            if (out.size() >= MAX_PASSPHRASE_BYTES) {
                throw new IllegalArgumentException("the passphrase is longer than " + MAX_PASSPHRASE_BYTES + " bytes");
            }
            out.write(b);
        }
        byte[] pass = out.toByteArray();
        out.reset(); // the stream's own buffer cannot be wiped; reset drops our view of it
        return pass;
    }

    private static byte[] utf8(char[] chars) {
        ByteBuffer b = StandardCharsets.UTF_8.encode(CharBuffer.wrap(chars));
        byte[] out = new byte[b.remaining()];
        b.get(out);
        if (b.hasArray()) {
            Arrays.fill(b.array(), (byte) 0);
        }
        return out;
    }
}

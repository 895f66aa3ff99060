package dev.loopdev.transforms;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where a passphrase or a key comes from, as cryptsetup reads them: a key file (its bytes, from
 * {@code --keyfile-offset}, at most {@code --keyfile-size}; {@code -} is standard input), one line of standard input
 * ({@code --passphrase-stdin}), or, when neither is given, the terminal, without echo. Never the command line.
 * Empty passphrases and keys are refused, in cryptsetup's words.
 *
 * @param keyFile       the key file, {@code -} for standard input, or null
 * @param keyfileOffset bytes of the key file to skip
 * @param keyfileSize   bytes of the key file to read at most; 0 for all (up to {@link #MAX_KEYFILE_BYTES})
 * @param stdinLine     read the passphrase from standard input up to the first newline
 */
public record KeySource(Path keyFile, long keyfileOffset, long keyfileSize, boolean stdinLine) {
    /** cryptsetup's default limit on key files (8192 KiB). */
    public static final int MAX_KEYFILE_BYTES = 8 << 20;
    /** cryptsetup's limit on a typed passphrase (512 characters; here bytes of UTF-8, generously four per one). */
    public static final int MAX_PASSPHRASE_BYTES = 2048;
    /** What cryptsetup says when the passphrase or key file is empty. */
    public static final String NOTHING_TO_READ = "Nothing to read on input.";

    public KeySource {
        if (keyFile != null && stdinLine) {
            throw new IllegalArgumentException("give either --key-file or --passphrase-stdin, not both");
        }
        if (keyfileOffset < 0 || keyfileSize < 0) {
            throw new IllegalArgumentException("--keyfile-offset and --keyfile-size must not be negative");
        }
        if (keyFile == null && (keyfileOffset != 0 || keyfileSize != 0)) {
            throw new IllegalArgumentException("--keyfile-offset and --keyfile-size need a --key-file");
        }
        if (keyfileSize > MAX_KEYFILE_BYTES) {
            throw new IllegalArgumentException("--keyfile-size " + keyfileSize + " is over the limit of "
                    + MAX_KEYFILE_BYTES + " bytes");
        }
    }

    /** The terminal, nothing given. */
    public static final KeySource TERMINAL = new KeySource(null, 0, 0, false);

    public boolean isStdin() {
        return stdinLine || (keyFile != null && keyFile.toString().equals("-"));
    }

    /**
     * A passphrase, as LUKS and plain-mode hashing take it: the key file's bytes (all of them, newlines included,
     * as cryptsetup reads a LUKS key file), one line of standard input, or typed at the terminal ({@code prompt};
     * twice when {@code verify}). The caller wipes it.
     */
    public byte[] passphrase(String prompt, boolean verify) throws IOException {
        byte[] p;
        if (keyFile != null) {
            p = readKeyFile(0);
        } else if (stdinLine) {
            p = readLine(System.in);
        } else {
            p = typed(prompt, verify);
        }
        if (p.length == 0) {
            throw new IllegalArgumentException(NOTHING_TO_READ);
        }
        return p;
    }

    /**
     * A raw key of exactly {@code keyBytes} (plain mode with a key file: the hash does not apply): the key file's
     * bytes from the offset. A shorter file is an error; so is a passphrase source, which has to be hashed.
     */
    public byte[] rawKey(int keyBytes) throws IOException {
        byte[] k = readKeyFile(keyBytes);
        if (k.length == 0) {
            throw new IllegalArgumentException(NOTHING_TO_READ);
        }
        if (k.length < keyBytes) {
            Arrays.fill(k, (byte) 0);
            throw new IllegalArgumentException(where() + ": a key of " + keyBytes * 8 + " bits needs " + keyBytes
                    + " bytes, the key file has " + k.length);
        }
        return k;
    }

    /** The key file's bytes from the offset: {@code want} of them if positive, else up to the size limit. */
    private byte[] readKeyFile(int want) throws IOException {
        long limit = want > 0 ? want : keyfileSize > 0 ? keyfileSize : MAX_KEYFILE_BYTES;
        boolean stdin = keyFile.toString().equals("-");
        if (!stdin && Files.isDirectory(keyFile)) {
            throw new IllegalArgumentException(keyFile + ": is a directory, not a key file");
        }
        try (InputStream in = stdin ? new java.io.FilterInputStream(System.in) {
            @Override
            public void close() {
                // standard input stays open for whatever reads it next
            }
        } : Files.newInputStream(keyFile)) {
            in.skipNBytes(keyfileOffset);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            while (out.size() < limit) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, limit - out.size()));
                if (n < 0) {
                    break;
                }
                out.write(buf, 0, n);
            }
            Arrays.fill(buf, (byte) 0);
            boolean more = want <= 0 && keyfileSize == 0 && out.size() >= limit && in.read() >= 0;
            byte[] k = out.toByteArray();
            out.reset();
            if (more) {
                Arrays.fill(k, (byte) 0);
                throw new IllegalArgumentException(where() + ": the key file is larger than " + MAX_KEYFILE_BYTES
                        + " bytes (give --keyfile-size)");
            }
            return k;
        } catch (java.io.EOFException e) {
            throw new IllegalArgumentException(where() + ": --keyfile-offset " + keyfileOffset
                    + " is beyond the end of the key file");
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(keyFile + ": no such key file");
        }
    }

    private String where() {
        return keyFile.toString().equals("-") ? "standard input" : keyFile.toString();
    }

    private static byte[] typed(String prompt, boolean verify) {
        byte[] first = Terminal.readPassword(prompt, MAX_PASSPHRASE_BYTES);
        if (first == null) {
            throw new IllegalArgumentException("a passphrase is needed: --key-file FILE, --passphrase-stdin, or run on "
                    + "a terminal");
        }
        if (verify && first.length > 0) {
            byte[] again = Terminal.readPassword("Verify passphrase: ", MAX_PASSPHRASE_BYTES);
            boolean same = again != null && Arrays.equals(first, again);
            if (again != null) {
                Arrays.fill(again, (byte) 0);
            }
            if (!same) {
                Arrays.fill(first, (byte) 0);
                throw new IllegalArgumentException("Passphrases do not match.");
            }
        }
        return first;
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

    /** Asks a question on the terminal (echoed) and returns the answer line; null when there is no terminal. */
    public static String ask(String prompt) {
        byte[] answer = Terminal.readLine(prompt, 256, true);
        return answer == null ? null : new String(answer, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Whether a passphrase could be typed here. */
    public static boolean hasTerminal() {
        return Terminal.available();
    }
}

package dev.loopdev.transforms;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.logging.Logger;

/**
 * The per-sector loop of AES-XTS in C ({@code src/main/c/xts_sectors.c}, built by Maven into
 * {@code libloopdev-xts.so} next to this class), so that a request is one JNI call however many sectors it has,
 * where JNA costs about 150 ns per sector. JNI's own call is a few nanoseconds on every JDK, Java 17 included.
 *
 * <p>The library is a resource of the jar, for the architecture it was built on. It is copied to a temporary
 * file, loaded, and the file deleted at once (the loaded mapping stays). Where that fails (no library for this
 * architecture, a temporary directory mounted noexec), {@link #LOADED} is false and {@link LibCryptoXts} calls
 * libcrypto a sector at a time as before. {@code -Dloopdev.downcall=ffm} or {@code jna} leaves it unloaded.
 */
final class XtsSectors {
    private static final Logger LOG = Logger.getLogger(XtsSectors.class.getName());
    static final boolean LOADED = load();

    private XtsSectors() {
    }

    /**
     * The sectors of {@code [in, in + length)} into {@code out} (which may equal {@code in}) with the context
     * {@code ctx}: for each, the sector number ({@code first}, then {@code ivStep} more per sector; its low 32 bits
     * with {@code plain32}) little-endian into the context's live IV at {@code iv}, then {@code cipher}, the address
     * of {@code EVP_Cipher}, over the sector. Returns {@code length}, or -1 if libcrypto refused a sector.
     */
    static native int sectors(long cipher, long ctx, long iv, long in, long out, int length, int sectorSize,
                              long first, int ivStep, boolean plain32);

    private static boolean load() {
        String forced = System.getProperty(Downcall.PROPERTY);
        if (forced != null && !forced.equals("jni")) {
            return false;
        }
        String name = "native/linux-" + System.getProperty("os.arch") + "/libloopdev-xts.so";
        try (InputStream in = XtsSectors.class.getResourceAsStream(name)) {
            if (in == null) {
                LOG.fine(() -> "no " + name + " for this architecture: libcrypto's XTS is called a sector at a time");
                return false;
            }
            Path copy = Files.createTempFile("loopdev-xts", ".so");
            try {
                Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
                System.load(copy.toAbsolutePath().toString());
            } finally {
                Files.delete(copy);
            }
            return true;
        } catch (IOException | LinkageError | SecurityException e) {
            LOG.fine(() -> "libloopdev-xts.so not loaded (" + e.getMessage()
                    + "): libcrypto's XTS is called a sector at a time");
            return false;
        }
    }
}

package dev.loopdev.cli;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.Transform;
import dev.loopdev.WritePathKind;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Locale;
import java.util.logging.Logger;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The options every command that opens a device shares, as losetup's. */
final class DeviceOptions {
    private static final Logger LOG = Logger.getLogger(DeviceOptions.class.getName());

    @Option(names = {"-r", "--read-only"}, description = "Refuse writes (automatic when the file is not writable).")
    boolean readOnly;

    @Option(names = {"-o", "--offset"}, paramLabel = "SIZE", defaultValue = "0",
            description = "Where the device starts in the file, in bytes (suffixes as for sizes: K, M, G, ...).")
    String offset;

    @Option(names = {"--size-limit", "--sizelimit"}, paramLabel = "SIZE", defaultValue = "0",
            description = "Size of the device at most (losetup's --sizelimit); 0: up to the end of the file.")
    String sizeLimit;

    @Option(names = {"-b", "--block-size"}, paramLabel = "512|1024|2048|4096", defaultValue = "512",
            description = "Logical block size (losetup's --sector-size). The device's size is a whole number of "
                    + "blocks; bytes beyond the last whole block are left out, and the log says so.")
    int blockSize;

    @Option(names = "--write-path", paramLabel = "auto|mapped|positional", defaultValue = "auto",
            description = "mapped: page-granular prepare/commit over memory-mapped pages; positional: positional "
                    + "writes; auto: mapped when the file can be mapped.")
    String writePath;

    @Mixin
    TransformOptions transform = new TransformOptions();

    /** Whether the plain-mode warning was given: once per process, however many devices. */
    private static boolean warnedNoHeader;

    /** Checks the options that need no file, so that a mistake is reported before anything is created. */
    void check() {
        offsetBytes();
        sizeLimitBytes();
        writePathKind();
        if (blockSize < 512 || blockSize > 4096 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("--block-size: must be 512, 1024, 2048 or 4096, not " + blockSize);
        }
    }

    /** Opens the device the options describe over {@code image}. */
    LoopDevice open(Path image) throws IOException {
        check();
        Images.check(image);
        long off = offsetBytes();
        long limit = sizeLimitBytes();
        Transform t = transform.create("none", off, false);
        LoopDevice dev;
        try {
            dev = LoopDevice.open(new LoopConfig(image, off, limit, readOnly, blockSize, writePathKind(), t));
        } catch (IOException e) {
            t.close();
            throw Cli.about(image, e);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        if (!t.isIdentity() && !warnedNoHeader) {
            warnedNoHeader = true;
            LOG.warning(t.name() + " keeps no header, so a wrong key cannot be detected: the device then reads "
                    + "as garbage (check what you see before writing)");
        }
        reportRounding(image, off, limit, dev.size());
        return dev;
    }

    /** How the device is described in the log: size, write path, transform, read-only. */
    static String describe(LoopDevice dev) {
        return Sizes.show(dev.size()) + ", " + dev.writePath().name().toLowerCase(Locale.ROOT) + " write path"
                + (dev.config().transform().isIdentity() ? "" : ", transform " + dev.config().transform().name())
                + (dev.isReadOnly() ? ", read-only" : "");
    }

    /** A device a little smaller than asked for says so: the bytes past the last whole block are left out. */
    private void reportRounding(Path image, long off, long limit, long deviceBytes) throws IOException {
        long fileBytes;
        try (FileChannel ch = FileChannel.open(image)) {
            fileBytes = ch.size(); // a block device's size too, unlike Files.size
        }
        long asked = limit > 0 ? Math.min(limit, fileBytes - off) : fileBytes - off;
        if (deviceBytes < asked) {
            LOG.warning(image + ": " + asked + " bytes" + (limit > 0 && limit <= fileBytes - off ? " (--size-limit)"
                    : "") + " rounded down to " + deviceBytes + ", a whole number of " + blockSize
                    + "-byte blocks; the last " + (asked - deviceBytes) + " bytes are not part of the device");
        }
    }

    private long offsetBytes() {
        return Sizes.parse("--offset", offset);
    }

    private long sizeLimitBytes() {
        return Sizes.parse("--size-limit", sizeLimit);
    }

    private WritePathKind writePathKind() {
        try {
            return WritePathKind.parse(writePath);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--write-path: must be auto, mapped or positional, not '" + writePath
                    + "'");
        }
    }
}

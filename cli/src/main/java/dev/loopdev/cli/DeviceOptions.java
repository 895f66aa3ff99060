package dev.loopdev.cli;

import dev.loopdev.BlockDeviceException;
import dev.loopdev.Errno;
import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.Transform;
import dev.loopdev.WritePathKind;
import dev.loopdev.luks.LuksDevices;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Locale;
import java.util.logging.Logger;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The options every command that opens a device shares, as losetup's and cryptsetup open's. */
final class DeviceOptions {
    private static final Logger LOG = Logger.getLogger(DeviceOptions.class.getName());

    @Option(names = {"-r", "--read-only"}, description = "Refuse writes (automatic when the file is not writable).")
    boolean readOnly;

    @Option(names = {"-o", "--offset"}, paramLabel = "SIZE", defaultValue = "0",
            description = "Where the device starts in the file, in bytes (suffixes as for sizes: K, M, G, ...).")
    String offset;

    @Option(names = {"--size-limit", "--sizelimit"}, paramLabel = "SIZE", defaultValue = "0",
            description = "Size of the device at most (losetup's --sizelimit); 0: up to the end of the file (or of "
                    + "the LUKS segment).")
    String sizeLimit;

    @Option(names = {"-b", "--block-size"}, paramLabel = "512|1024|2048|4096", defaultValue = "512",
            description = "Logical block size (losetup's --sector-size; at least a LUKS image's sector size). The "
                    + "device's size is a whole number of blocks; bytes beyond the last whole block are left out, "
                    + "and the log says so.")
    int blockSize;

    @Option(names = "--write-path", paramLabel = "auto|mapped|positional", defaultValue = "auto",
            description = "mapped: page-granular prepare/commit over memory-mapped pages; positional: positional "
                    + "writes; auto: mapped when the file can be mapped.")
    String writePath;

    @Mixin
    TransformOptions transform = new TransformOptions();

    @Mixin
    LuksOptions luks = new LuksOptions();

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

    /**
     * Opens the device the options describe over {@code image}: a LUKS image's data segment (the header found by
     * itself, or --header), unlocked with the passphrase, or the window and plain transform of the options.
     */
    LoopDevice open(Path image) throws IOException {
        check();
        Images.check(image);
        long off = offsetBytes();
        long limit = sizeLimitBytes();
        WritePathKind kind = writePathKind();
        LoopConfig config;
        boolean plainMode = false;
        LuksDevices.checkNoConversionUnderway(image);
        if (LuksDevices.isLuks(luks.mode(), image, luks.header)) {
            String plain = off != 0 ? "--offset" : transform.plainOptionGiven();
            if (plain != null) {
                throw new IllegalArgumentException(plain + " cannot be used with a LUKS image: the header says it ("
                        + (luks.header != null ? luks.header : image) + "; --luks off ignores the header)");
            }
            config = LuksDevices.unlock(image, luks.header, transform.key.source(), luks.keySlot);
            if (limit > 0) {
                config = config.withSizeLimit(config.sizeLimitBytes() > 0 ? Math.min(limit, config.sizeLimitBytes())
                        : limit);
            }
            config = config.withBlockSize(Math.max(blockSize, config.blockSize()));
        } else {
            if (luks.keySlot >= 0) {
                throw new IllegalArgumentException("--key-slot needs a LUKS image");
            }
            Transform t = transform.request().create("none", off, false);
            config = new LoopConfig(image, off, limit, readOnly, blockSize, kind, t);
            plainMode = !t.isIdentity();
        }
        config = config.withReadOnly(readOnly).withWritePath(kind);
        LoopDevice dev;
        try {
            dev = LoopDevice.open(config);
        } catch (BlockDeviceException e) {
            config.transform().close();
            if (kind == WritePathKind.MAPPED && e.errno() == Errno.ENOTSUP) {
                throw new BlockDeviceException(e.errno(), image + " cannot be memory-mapped; use --write-path "
                        + "positional or auto", e);
            }
            throw Cli.about(image, e);
        } catch (IOException e) {
            config.transform().close();
            throw Cli.about(image, e);
        } catch (RuntimeException e) {
            config.transform().close();
            throw e;
        }
        if (plainMode && !warnedNoHeader) {
            warnedNoHeader = true;
            LOG.warning(config.transform().name() + " keeps no header, so a wrong key cannot be detected: the "
                    + "device then reads as garbage (check what you see before writing)");
        }
        reportRounding(dev);
        return dev;
    }

    /** How the device is described in the log: size, write path, transform, read-only. */
    static String describe(LoopDevice dev) {
        return Sizes.show(dev.size()) + ", " + dev.writePath().name().toLowerCase(Locale.ROOT) + " write path"
                + (dev.config().transform().isIdentity() ? "" : ", transform " + dev.config().transform().name())
                + (dev.isReadOnly() ? ", read-only" : "");
    }

    /** A device a little smaller than asked for says so: the bytes past the last whole block are left out. */
    private static void reportRounding(LoopDevice dev) throws IOException {
        LoopConfig c = dev.config();
        long fileBytes;
        try (FileChannel ch = FileChannel.open(c.file())) {
            fileBytes = ch.size(); // a block device's size too, unlike Files.size
        }
        long available = fileBytes - c.offsetBytes();
        long asked = c.sizeLimitBytes() > 0 ? Math.min(c.sizeLimitBytes(), available) : available;
        if (dev.size() < asked) {
            LOG.warning(c.file() + ": " + asked + " bytes" + (c.sizeLimitBytes() > 0 && c.sizeLimitBytes() <= available
                    ? " (--size-limit)" : "") + " rounded down to " + dev.size() + ", a whole number of "
                    + dev.blockSize() + "-byte blocks; the last " + (asked - dev.size())
                    + " bytes are not part of the device");
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

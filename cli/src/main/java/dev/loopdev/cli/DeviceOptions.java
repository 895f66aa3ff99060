package dev.loopdev.cli;

import dev.loopdev.BlockDeviceException;
import dev.loopdev.Errno;
import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.Transform;
import dev.loopdev.WritePathKind;
import dev.loopdev.luks.LuksDevices;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The options every command that opens a device shares, as losetup's and cryptsetup open's. */
final class DeviceOptions {
    @Option(names = "--read-only", description = "Refuse writes (automatic when the file is not writable).")
    boolean readOnly;

    @Option(names = "--offset", paramLabel = "N", defaultValue = "0",
            description = "Byte offset of the device in the file (suffixes K, M, G).")
    String offset;

    @Option(names = "--size-limit", paramLabel = "N", defaultValue = "0",
            description = "Size of the device at most; 0 means up to the end of the file (or of the LUKS segment).")
    String sizeLimit;

    @Option(names = "--block-size", paramLabel = "N", defaultValue = "512",
            description = "Logical block size: 512, 1024, 2048 or 4096 (at least a LUKS image's sector size).")
    int blockSize;

    @Option(names = "--write-path", paramLabel = "auto|mapped|positional", defaultValue = "auto",
            description = "mapped: page-granular prepare/commit over memory-mapped pages; positional: positional "
                    + "writes; auto: mapped when the file can be mapped.")
    String writePath;

    @Mixin
    TransformOptions transform = new TransformOptions();

    @Mixin
    LuksOptions luks = new LuksOptions();

    /**
     * Opens the device the options describe over {@code image}: a LUKS image's data segment (the header found by
     * itself, or --header), unlocked with the passphrase, or the window and plain transform of the options.
     */
    LoopDevice open(Path image) throws IOException {
        long off = Cli.parseSize(offset);
        long limit = Cli.parseSize(sizeLimit);
        WritePathKind kind;
        try {
            kind = WritePathKind.parse(writePath);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--write-path must be auto, mapped or positional, not '" + writePath + "'");
        }
        LoopConfig config;
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
        }
        config = config.withReadOnly(readOnly).withWritePath(kind);
        try {
            return LoopDevice.open(config);
        } catch (BlockDeviceException e) {
            config.transform().close();
            if (kind == WritePathKind.MAPPED && e.errno() == Errno.ENOTSUP) {
                throw new BlockDeviceException(e.errno(), image + " cannot be memory-mapped; use --write-path "
                        + "positional or auto", e);
            }
            throw e;
        } catch (IOException | RuntimeException e) {
            config.transform().close();
            throw e;
        }
    }
}

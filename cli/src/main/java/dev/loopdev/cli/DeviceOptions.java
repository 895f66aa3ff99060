package dev.loopdev.cli;

import dev.loopdev.BlockDeviceException;
import dev.loopdev.Errno;
import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.Transform;
import dev.loopdev.WritePathKind;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The options every command that opens a device shares, as losetup's. */
final class DeviceOptions {
    @Option(names = "--read-only", description = "Refuse writes (automatic when the file is not writable).")
    boolean readOnly;

    @Option(names = "--offset", paramLabel = "N", defaultValue = "0",
            description = "Byte offset of the device in the file (suffixes K, M, G).")
    String offset;

    @Option(names = "--size-limit", paramLabel = "N", defaultValue = "0",
            description = "Size of the device at most; 0 means up to the end of the file.")
    String sizeLimit;

    @Option(names = "--block-size", paramLabel = "N", defaultValue = "512",
            description = "Logical block size: 512 or 4096.")
    int blockSize;

    @Option(names = "--write-path", paramLabel = "auto|mapped|positional", defaultValue = "auto",
            description = "mapped: page-granular prepare/commit over memory-mapped pages; positional: positional "
                    + "writes; auto: mapped when the file can be mapped.")
    String writePath;

    @Mixin
    TransformOptions transform = new TransformOptions();

    /** Opens the device the options describe over {@code image}. */
    LoopDevice open(Path image) throws IOException {
        long off = Cli.parseSize(offset);
        long limit = Cli.parseSize(sizeLimit);
        WritePathKind kind;
        try {
            kind = WritePathKind.parse(writePath);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--write-path must be auto, mapped or positional, not '" + writePath + "'");
        }
        Transform t = transform(image);
        try {
            return LoopDevice.open(new LoopConfig(image, off, limit, readOnly, blockSize, kind, t));
        } catch (BlockDeviceException e) {
            t.close();
            if (kind == WritePathKind.MAPPED && e.errno() == Errno.ENOTSUP) {
                throw new BlockDeviceException(e.errno(), image + " cannot be memory-mapped; use --write-path "
                        + "positional or auto", e);
            }
            throw e;
        } catch (IOException | RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private Transform transform(Path image) throws IOException {
        return transform.create("none", Cli.parseSize(offset), false);
    }
}

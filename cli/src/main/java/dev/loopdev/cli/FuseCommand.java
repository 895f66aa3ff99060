package dev.loopdev.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code loopdev fuse IMAGE MOUNTPOINT}: the device as one file in a FUSE mount. */
@Command(name = "fuse", mixinStandardHelpOptions = true,
        description = "Expose a file as a block device file in a FUSE mount.")
final class FuseCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "The backing file.")
    Path image;

    @Parameters(index = "1", paramLabel = "MOUNTPOINT", description = "An empty directory to mount on.")
    Path mountpoint;

    @Mixin
    DeviceOptions device;

    @Override
    public Integer call() throws Exception {
        throw new UnsupportedOperationException("fuse: not built yet");
    }
}

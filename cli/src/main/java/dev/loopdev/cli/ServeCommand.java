package dev.loopdev.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code loopdev serve IMAGE}: serve a file over NBD. */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Serve a file as a block device over NBD.")
final class ServeCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "The backing file.")
    Path image;

    @Mixin
    DeviceOptions device;

    @Override
    public Integer call() throws Exception {
        throw new UnsupportedOperationException("serve: not built yet");
    }
}

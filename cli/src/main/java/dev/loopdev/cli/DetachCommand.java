package dev.loopdev.cli;

import dev.loopdev.nbd.kernel.KernelNbd;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code loopdev detach /dev/nbdN}: disconnects the kernel's client, as {@code nbd-client -d}; when loopdev
 * attached the device, waits until the serving process has flushed and closed the file, so the file is complete
 * when this returns.
 */
@Command(name = "detach", mixinStandardHelpOptions = true, description = "Detach /dev/nbdN (root only).")
final class DetachCommand implements Callable<Integer> {
    private static final long FLUSH_WAIT_SECONDS = 120;

    @Parameters(index = "0", paramLabel = "/dev/nbdN", description = "The device to detach.")
    String device;

    @Override
    public Integer call() throws Exception {
        int index = KernelNbd.parseDevice(device);
        AttachState state = AttachState.read(index);
        Optional<ProcessHandle> server = state != null && state.isLive() ? ProcessHandle.of(state.pid()) : Optional.empty();
        KernelNbd.disconnect(index);
        if (server.isPresent()) {
            try {
                server.get().onExit().get(FLUSH_WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException(KernelNbd.devicePath(index) + ": disconnected, but the serving process "
                        + state.pid() + " has not finished within " + FLUSH_WAIT_SECONDS + " s");
            }
        }
        return 0;
    }
}

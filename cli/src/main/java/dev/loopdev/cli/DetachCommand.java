package dev.loopdev.cli;

import dev.loopdev.nbd.kernel.KernelNbd;
import dev.loopdev.ublk.UblkDevices;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code loopdev detach /dev/nbdN}: disconnects the kernel's client, as {@code nbd-client -d}; when loopdev
 * attached the device, waits until the serving process has flushed and closed the file, so the file is complete
 * when this returns. {@code loopdev detach /dev/ublkbN} stops a ublk device the same way (STOP_DEV; its server
 * flushes and deletes it), refuses one that is still in use (a mounted file system), and deletes one whose server
 * died.
 */
@Command(name = "detach", mixinStandardHelpOptions = true, description = "Detach /dev/nbdN or /dev/ublkbN (root only).")
final class DetachCommand implements Callable<Integer> {
    private static final long FLUSH_WAIT_SECONDS = 120;

    @Parameters(index = "0", paramLabel = "/dev/nbdN", description = "The device to detach.")
    String device;

    @Mixin
    LogOptions log;

    @Override
    public Integer call() throws Exception {
        if (DeviceArgument.isUblk(device)) {
            return detachUblk(DeviceArgument.ublkId(device));
        }
        int index = DeviceArgument.nbdIndex(device);
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

    private int detachUblk(int id) throws Exception {
        String path = dev.loopdev.ublk.UblkServer.blockDevice(id);
        UblkDevices.Info info = UblkDevices.info(id)
                .orElseThrow(() -> new IllegalArgumentException(path + " is not attached"));
        if (UblkDevices.inUse(id)) {
            throw new IllegalStateException(path + " is in use (mounted?): unmount it first");
        }
        if (!info.serverAlive()) { // nobody will delete it but us: free the id (and /dev/ublkcN)
            try {
                UblkDevices.stop(id);
            } catch (java.io.IOException ignored) {
                // already stopped when its server died
            }
            UblkDevices.delete(id);
            UblkAttachState s = UblkAttachState.read(id);
            if (s != null) {
                s.delete();
            }
            return 0;
        }
        ProcessHandle server = ProcessHandle.of(info.serverPid()).orElseThrow();
        UblkDevices.stop(id);
        try {
            server.onExit().get(FLUSH_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException(path + ": stopped, but the serving process " + info.serverPid()
                    + " has not finished within " + FLUSH_WAIT_SECONDS + " s");
        }
        return 0;
    }
}

package dev.loopdev.cli;

import dev.loopdev.LoopDevice;
import dev.loopdev.ublk.UblkDevices;
import dev.loopdev.ublk.UblkServer;
import java.io.IOException;
import java.util.logging.Logger;
import sun.misc.Signal;

/**
 * The serving side of {@code loopdev attach --ublk}: the image locked against a second server, the device as
 * /dev/ublkbN, its record in /run/loopdev, and the lifecycle: SIGINT or SIGTERM stop the device (the kernel writes
 * its cache back through us), flush the image and delete the device, unless something still holds the device (a
 * mounted file system): that is reported, and the device stays. {@code loopdev detach} stops it from outside.
 */
final class UblkAttach {
    private static final Logger LOG = Logger.getLogger(UblkAttach.class.getName());

    private UblkAttach() {
    }

    /** Serves {@code dev} until the device is stopped; {@code id} &lt; 0 takes any free one. Closes {@code dev}. */
    static int serve(LoopDevice dev, int id, UblkServer.Options options, boolean notifyReady) throws Exception {
        ImageLock lock;
        UblkServer server;
        try {
            lock = ImageLock.acquire(dev.file(), dev.isReadOnly());
        } catch (IOException e) {
            dev.close();
            throw e;
        }
        try {
            server = UblkServer.start(dev, id, options, "loopdev:" + dev.file());
        } catch (Exception e) {
            lock.close();
            dev.close();
            throw e;
        }
        UblkAttachState state = UblkAttachState.of(server, dev, options);
        try {
            state.write();
            System.out.println(server.blockDevice());
            System.out.flush();
            if (notifyReady) {
                Daemon.redirectOutput(AttachState.DIR.resolve("ublkb" + server.id() + ".log"));
            }
            for (String name : new String[] {"INT", "TERM"}) {
                Signal.handle(new Signal(name), sig -> new Thread(() -> stopUnlessBusy(server, "SIG" + sig.getName()),
                        "loopdev-ublk-signal").start());
            }
            server.awaitEnd();
        } finally {
            try {
                server.close(); // flushes the image, then deletes the device
            } finally {
                state.delete();
                dev.close();
                lock.close();
            }
        }
        return 0;
    }

    private static void stopUnlessBusy(UblkServer server, String why) {
        try {
            if (UblkDevices.inUse(server.id())) {
                LOG.warning(server.blockDevice() + " is in use (mounted?): " + why + " ignored; unmount it and try again");
                return;
            }
            LOG.info(why + ": detaching " + server.blockDevice());
            server.close();
        } catch (IOException e) {
            LOG.warning(server.blockDevice() + ": " + e.getMessage());
        }
    }
}

package dev.loopdev.cli;

import dev.loopdev.nbd.kernel.KernelNbd;
import dev.loopdev.ublk.UblkDevices;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code loopdev list}: the connected NBD devices, as {@code losetup -a} lists loop devices: for those loopdev
 * attached, the file and the options (from /run/loopdev, trusted only while /sys/block/nbdN/pid agrees); for the
 * others, the pid of whoever connected them. Then the ublk devices, from the driver (GET_DEV_INFO) and the records
 * of {@code attach --ublk}; one whose server died is listed as such until {@code detach} deletes it.
 */
@Command(name = "list", mixinStandardHelpOptions = true, description = "List the attached NBD and ublk devices.")
final class ListCommand implements Callable<Integer> {
    @Option(names = "--json", description = "One JSON object: {\"nbddevices\": [...], \"ublkdevices\": [...]}.")
    boolean json;

    @Spec
    CommandSpec spec;

    /** A connected device; {@code state} is null when loopdev did not attach it. */
    private record Entry(int index, long pid, AttachState state) {
    }

    /** A ublk device; {@code state} is null when loopdev did not attach it or its server is gone. */
    private record UblkEntry(UblkDevices.Info info, UblkAttachState state) {
    }

    @Override
    public Integer call() throws IOException {
        List<Entry> entries = new ArrayList<>();
        for (int i : KernelNbd.devices()) {
            OptionalLong pid = KernelNbd.pidOf(i);
            if (pid.isEmpty()) {
                continue;
            }
            AttachState s = AttachState.read(i);
            entries.add(new Entry(i, pid.getAsLong(), s != null && s.isLive() ? s : null));
        }
        List<UblkEntry> ublk = new ArrayList<>();
        for (UblkDevices.Info info : UblkDevices.list()) {
            UblkAttachState s = UblkAttachState.read(info.id());
            ublk.add(new UblkEntry(info, s != null && s.isLiveFor(info) ? s : null));
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            printJson(out, entries, ublk);
        } else {
            printTable(out, entries, ublk);
        }
        out.flush();
        return 0;
    }

    private static void printTable(PrintWriter out, List<Entry> entries, List<UblkEntry> ublk) {
        if (entries.isEmpty() && ublk.isEmpty()) {
            return;
        }
        String fmt = "%-11s %-8s %12s %5s %2s %5s %-10s %-9s %s%n";
        out.printf(fmt, "NAME", "PID", "SIZE", "BLOCK", "RO", "CONNS", "WRITE-PATH", "TRANSFORM", "BACK-FILE");
        for (Entry e : entries) {
            AttachState s = e.state();
            if (s == null) {
                out.printf(fmt, KernelNbd.devicePath(e.index()), e.pid(), "-", "-", "-", "-", "-", "-",
                        "(not attached by loopdev)");
            } else {
                String file = backFile(s.image(), s.offsetBytes(), s.sizeLimitBytes());
                out.printf(fmt, s.device(), s.pid(), s.sizeBytes(), s.blockSize(), s.readOnly() ? "1" : "0",
                        s.connections(), s.writePath(), s.transform(), file);
            }
        }
        for (UblkEntry e : ublk) {
            UblkAttachState s = e.state();
            UblkDevices.Info i = e.info();
            if (s != null) {
                out.printf(fmt, s.device(), s.pid(), s.sizeBytes(), s.blockSize(), s.readOnly() ? "1" : "0",
                        s.queues(), s.writePath(), s.transform(), backFile(s.image(), s.offsetBytes(), s.sizeLimitBytes()));
            } else {
                out.printf(fmt, i.blockDevice(), i.serverPid() > 0 ? i.serverPid() : "-", "-", "-", "-", i.queues(),
                        "-", "-", i.serverAlive() ? "(not attached by loopdev)"
                                : "(" + i.stateName() + ", server gone: loopdev detach " + i.blockDevice() + ")");
            }
        }
    }

    private static String backFile(String image, long offsetBytes, long sizeLimitBytes) {
        return image + (offsetBytes != 0 ? " (offset " + offsetBytes + ")" : "")
                + (sizeLimitBytes != 0 ? " (sizelimit " + sizeLimitBytes + ")" : "");
    }

    private static void printJson(PrintWriter out, List<Entry> entries, List<UblkEntry> ublk) {
        out.println("{\"nbddevices\": [");
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            String item = e.state() != null ? e.state().toJson()
                    : "{\"device\": " + AttachState.quote(KernelNbd.devicePath(e.index())) + ", \"index\": " + e.index()
                            + ", \"pid\": " + e.pid() + ", \"image\": null}";
            out.println("  " + item + (i + 1 < entries.size() ? "," : ""));
        }
        out.println("], \"ublkdevices\": [");
        for (int i = 0; i < ublk.size(); i++) {
            UblkEntry e = ublk.get(i);
            UblkDevices.Info info = e.info();
            String item = e.state() != null ? e.state().toJson()
                    : "{\"device\": " + AttachState.quote(info.blockDevice()) + ", \"type\": \"ublk\", \"index\": "
                            + info.id() + ", \"pid\": " + info.serverPid() + ", \"state\": "
                            + AttachState.quote(info.stateName()) + ", \"serverAlive\": " + info.serverAlive()
                            + ", \"image\": null}";
            out.println("  " + item + (i + 1 < ublk.size() ? "," : ""));
        }
        out.println("]}");
    }
}

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
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code loopdev list}: the connected NBD devices, as {@code losetup -l} lists loop devices: for those loopdev
 * attached, the file and the options (from /run/loopdev, trusted only while /sys/block/nbdN/pid agrees); for the
 * others, the pid of whoever connected them. Then the ublk devices, from the driver (GET_DEV_INFO) and the records
 * of {@code attach --ublk}; one whose server died is listed as such until {@code detach} deletes it.
 */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = "List the attached NBD and ublk devices, as losetup -l lists loop devices.")
final class ListCommand implements Callable<Integer> {
    @Option(names = {"-J", "--json"}, description = "JSON, in losetup --json's shape: {\"nbddevices\": [{\"name\": "
            + "\"/dev/nbd0\", \"sizelimit\": 0, \"offset\": 0, \"ro\": false, \"back-file\": ..., \"log-sec\": 512, "
            + "...}], \"ublkdevices\": [...]}.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Mixin
    LogOptions log;

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

    /** losetup -l's columns (without AUTOCLEAR and DIO, which NBD and ublk devices lack), then what they add. */
    private static void printTable(PrintWriter out, List<Entry> entries, List<UblkEntry> ublk) {
        if (entries.isEmpty() && ublk.isEmpty()) {
            return; // as losetup -l
        }
        String fmt = "%-11s %9s %9s %2s %-30s %7s %8s %5s %-10s %s%n";
        out.printf(fmt, "NAME", "SIZELIMIT", "OFFSET", "RO", "BACK-FILE", "LOG-SEC", "PID", "CONNS", "WRITE-PATH",
                "TRANSFORM");
        for (Entry e : entries) {
            AttachState s = e.state();
            if (s == null) {
                out.printf(fmt, KernelNbd.devicePath(e.index()), "-", "-", "-", "(not attached by loopdev)", "-",
                        e.pid(), "-", "-", "-");
            } else {
                out.printf(fmt, s.device(), s.sizeLimitBytes(), s.offsetBytes(), s.readOnly() ? "1" : "0", s.image(),
                        s.blockSize(), s.pid(), s.connections(), s.writePath(), s.transform());
            }
        }
        for (UblkEntry e : ublk) {
            UblkAttachState s = e.state();
            UblkDevices.Info i = e.info();
            if (s != null) {
                out.printf(fmt, s.device(), s.sizeLimitBytes(), s.offsetBytes(), s.readOnly() ? "1" : "0", s.image(),
                        s.blockSize(), s.pid(), s.queues(), s.writePath(), s.transform());
            } else {
                out.printf(fmt, i.blockDevice(), "-", "-", "-", i.serverAlive() ? "(not attached by loopdev)"
                        : "(" + i.stateName() + ", server gone: loopdev detach " + i.blockDevice() + ")", "-",
                        i.serverPid() > 0 ? i.serverPid() : "-", i.queues(), "-", "-");
            }
        }
    }

    /** losetup --json's shape: one array named after the kind of device, kebab-case keys, losetup's first. */
    private static void printJson(PrintWriter out, List<Entry> entries, List<UblkEntry> ublk) {
        out.println("{");
        out.println("   \"nbddevices\": [");
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            AttachState s = e.state();
            String item = s == null
                    ? "{\"name\": " + AttachState.quote(KernelNbd.devicePath(e.index())) + ", \"back-file\": null, "
                            + "\"pid\": " + e.pid() + "}"
                    : "{\"name\": " + AttachState.quote(s.device()) + ", \"sizelimit\": " + s.sizeLimitBytes()
                            + ", \"offset\": " + s.offsetBytes() + ", \"ro\": " + s.readOnly()
                            + ", \"back-file\": " + AttachState.quote(s.image()) + ", \"log-sec\": " + s.blockSize()
                            + ", \"size\": " + s.sizeBytes() + ", \"pid\": " + s.pid()
                            + ", \"connections\": " + s.connections() + ", \"write-path\": "
                            + AttachState.quote(s.writePath()) + ", \"transform\": " + AttachState.quote(s.transform())
                            + ", \"netlink\": " + s.netlink() + "}";
            out.println("      " + item + (i + 1 < entries.size() ? "," : ""));
        }
        out.println("   ],");
        out.println("   \"ublkdevices\": [");
        for (int i = 0; i < ublk.size(); i++) {
            UblkEntry e = ublk.get(i);
            UblkAttachState s = e.state();
            UblkDevices.Info info = e.info();
            String item = s == null
                    ? "{\"name\": " + AttachState.quote(info.blockDevice()) + ", \"back-file\": null, \"pid\": "
                            + info.serverPid() + ", \"state\": " + AttachState.quote(info.stateName())
                            + ", \"server-alive\": " + info.serverAlive() + "}"
                    : "{\"name\": " + AttachState.quote(s.device()) + ", \"sizelimit\": " + s.sizeLimitBytes()
                            + ", \"offset\": " + s.offsetBytes() + ", \"ro\": " + s.readOnly()
                            + ", \"back-file\": " + AttachState.quote(s.image()) + ", \"log-sec\": " + s.blockSize()
                            + ", \"size\": " + s.sizeBytes() + ", \"pid\": " + s.pid() + ", \"queues\": " + s.queues()
                            + ", \"depth\": " + s.depth() + ", \"write-path\": " + AttachState.quote(s.writePath())
                            + ", \"transform\": " + AttachState.quote(s.transform()) + "}";
            out.println("      " + item + (i + 1 < ublk.size() ? "," : ""));
        }
        out.println("   ]");
        out.println("}");
    }
}

package dev.loopdev.cli;

import dev.loopdev.nbd.kernel.KernelNbd;
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
 * others, the pid of whoever connected them.
 */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = "List the connected NBD devices, as losetup -l lists loop devices.")
final class ListCommand implements Callable<Integer> {
    @Option(names = {"-J", "--json"}, description = "JSON, in losetup --json's shape: {\"nbddevices\": [{\"name\": "
            + "\"/dev/nbd0\", \"sizelimit\": 0, \"offset\": 0, \"ro\": false, \"back-file\": ..., \"log-sec\": 512, "
            + "...}]}.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Mixin
    LogOptions log;

    /** A connected device; {@code state} is null when loopdev did not attach it. */
    private record Entry(int index, long pid, AttachState state) {
    }

    @Override
    public Integer call() {
        List<Entry> entries = new ArrayList<>();
        for (int i : KernelNbd.devices()) {
            OptionalLong pid = KernelNbd.pidOf(i);
            if (pid.isEmpty()) {
                continue;
            }
            AttachState s = AttachState.read(i);
            entries.add(new Entry(i, pid.getAsLong(), s != null && s.isLive() ? s : null));
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            printJson(out, entries);
        } else {
            printTable(out, entries);
        }
        out.flush();
        return 0;
    }

    /** losetup -l's columns (without AUTOCLEAR and DIO, which NBD devices lack), then what NBD adds. */
    private static void printTable(PrintWriter out, List<Entry> entries) {
        if (entries.isEmpty()) {
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
    }

    /** losetup --json's shape: one array named after the kind of device, kebab-case keys, losetup's first. */
    private static void printJson(PrintWriter out, List<Entry> entries) {
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
        out.println("   ]");
        out.println("}");
    }
}

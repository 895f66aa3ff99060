package dev.loopdev.cli;

import dev.loopdev.nbd.kernel.KernelNbd;
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
 * others, the pid of whoever connected them.
 */
@Command(name = "list", mixinStandardHelpOptions = true, description = "List the attached NBD devices.")
final class ListCommand implements Callable<Integer> {
    @Option(names = "--json", description = "One JSON object: {\"nbddevices\": [...]}.")
    boolean json;

    @Spec
    CommandSpec spec;

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

    private static void printTable(PrintWriter out, List<Entry> entries) {
        if (entries.isEmpty()) {
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
                String file = s.image() + (s.offsetBytes() != 0 ? " (offset " + s.offsetBytes() + ")" : "")
                        + (s.sizeLimitBytes() != 0 ? " (sizelimit " + s.sizeLimitBytes() + ")" : "");
                out.printf(fmt, s.device(), s.pid(), s.sizeBytes(), s.blockSize(), s.readOnly() ? "1" : "0",
                        s.connections(), s.writePath(), s.transform(), file);
            }
        }
    }

    private static void printJson(PrintWriter out, List<Entry> entries) {
        out.println("{\"nbddevices\": [");
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            String item = e.state() != null ? e.state().toJson()
                    : "{\"device\": " + AttachState.quote(KernelNbd.devicePath(e.index())) + ", \"index\": " + e.index()
                            + ", \"pid\": " + e.pid() + ", \"image\": null}";
            out.println("  " + item + (i + 1 < entries.size() ? "," : ""));
        }
        out.println("]}");
    }
}

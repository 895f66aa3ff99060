package dev.loopdev.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Model.CommandSpec;

/** Starting this program again in another process: how a command backgrounds itself, JVMs having no fork. */
final class Relaunch {
    private Relaunch() {
    }

    /** java plus what runs this program: -jar for the runnable jar (its manifest enables native access), else -cp. */
    static List<String> javaCommand() {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()); // -Xmx and the like
        String cp = System.getProperty("java.class.path");
        if (cp.endsWith(".jar") && !cp.contains(java.io.File.pathSeparator)) {
            cmd.add("-jar");
            cmd.add(cp);
        } else {
            cmd.add("-cp");
            cmd.add(cp);
            cmd.add(Main.class.getName());
        }
        return cmd;
    }

    /**
     * The arguments given to {@code spec}'s command, after its name: Main runs a subcommand on its own, so they are
     * all of them; in the whole tree (no option of loopdev's own can come before a subcommand) all but the first.
     */
    static List<String> ownArgs(CommandSpec spec) {
        List<String> args = spec.commandLine().getParseResult().originalArgs();
        return spec.parent() == null ? args : args.subList(1, args.size());
    }

    /** The first line {@code p} prints, or null if it exits or stays silent for {@code timeoutMillis}. */
    static String firstLine(Process p, long timeoutMillis) throws IOException, InterruptedException {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
            try {
                return r.readLine();
            } catch (IOException e) {
                return null;
            }
        });
        try {
            return line.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return null;
        } catch (ExecutionException e) {
            throw new IOException(e.getCause());
        } finally {
            if (!line.isDone()) {
                line.cancel(true);
            }
            if (!p.isAlive()) {
                p.waitFor(1, TimeUnit.SECONDS);
            }
        }
    }
}

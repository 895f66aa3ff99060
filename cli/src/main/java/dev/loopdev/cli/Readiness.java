package dev.loopdev.cli;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * How serve and fuse tell whoever started them that they serve, as qemu-nbd and nbdkit do: {@code --fork} (return
 * once ready, the server going on in the background), {@code --pid-file} (written when ready, removed at exit), and
 * systemd's {@code READY=1} when NOTIFY_SOCKET is set. "Ready" is: listening, or mounted.
 */
final class Readiness implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Readiness.class.getName());
    /** Starting a JVM is quick, but a passphrase may be typed, an Argon2 key derived, a slow disk read. */
    private static final long READY_TIMEOUT_MILLIS = 600_000;
    private static final String FORKED = "--forked";
    /** How long a background process that closed its stdout without a line may take to exit. */
    private static final long EXIT_WAIT_SECONDS = 30;

    @Option(names = "--fork", description = "Serve in the background: return once ready (listening, or mounted), "
            + "printing what a foreground run prints, as qemu-nbd --fork.")
    boolean fork;

    @Option(names = {"-P", "--pid-file"}, paramLabel = "FILE",
            description = "Write the serving process's id to FILE once ready; removed when it exits.")
    Path pidFile;

    /** The background process that --fork starts. */
    @Option(names = FORKED, hidden = true)
    boolean forked;

    private boolean pidFileWritten;
    private volatile boolean stopping;

    /** Whether this is the command that was given --fork, and is to start the background process and wait. */
    boolean mustFork() {
        return fork && !forked;
    }

    /**
     * Runs {@code serve} here, removing the pid file after it; or, given --fork, starts the background process that
     * runs it and returns once that one is ready.
     */
    int run(CommandSpec spec, DeviceOptions device, Callable<Integer> serve) throws Exception {
        if (mustFork()) {
            return forkAndWait(spec, device.transform.key.source().isStdin());
        }
        try {
            return serve.call();
        } finally {
            close();
        }
    }

    /**
     * Runs {@code spec}'s command again, in a new process that serves in the background, and returns once it is
     * ready (having printed its line on stdout) or has failed (having said why on stderr, which it shares).
     *
     * @param stdinForTheServer whether the server reads standard input (a passphrase or key there): it then
     *                          inherits ours; otherwise it gets /dev/null, as qemu-nbd's does
     */
    private int forkAndWait(CommandSpec spec, boolean stdinForTheServer) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(Relaunch.javaCommand());
        cmd.addAll(List.of(spec.qualifiedName(" ").substring(Logs.PROGRAM.length() + 1).split(" ")));
        for (String a : Relaunch.ownArgs(spec)) {
            if (!a.equals("--fork") && !a.startsWith("--fork=")) {
                cmd.add(a);
            }
        }
        cmd.add(FORKED);
        Process p = new ProcessBuilder(cmd).redirectInput(stdinForTheServer ? ProcessBuilder.Redirect.INHERIT
                        : ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String line = Relaunch.firstLine(p, READY_TIMEOUT_MILLIS);
        if (line != null) {
            System.out.println(line);
            System.out.flush();
            return 0;
        }
        if (!p.waitFor(EXIT_WAIT_SECONDS, TimeUnit.SECONDS)) { // not ready, and not exiting either
            p.destroy();
            throw new IOException(spec.qualifiedName(" ") + ": not ready after " + READY_TIMEOUT_MILLIS / 1000
                    + " s; stopped it");
        }
        int status = p.exitValue();
        return status == 0 ? Main.EXIT_RUNTIME : status; // it has said why on our stderr
    }

    /**
     * Says the command is ready: {@code line} on stdout (the URI, or the device file; null for none), the pid file,
     * READY=1 to systemd; and a forked process then leaves the session and stops writing to its parent's pipe.
     */
    void ready(String line) throws IOException {
        if (line != null) {
            System.out.println(line);
            System.out.flush();
        }
        if (pidFile != null) {
            writePidFile();
        }
        SdNotify.notify("READY=1");
        if (forked) {
            Daemon.newSession();
            Daemon.stdoutToNull();
        }
    }

    /** Tells systemd, once, that the service is stopping (a signal, the --run command's end, an unmount). */
    void stopping() {
        if (!stopping) {
            stopping = true;
            SdNotify.notify("STOPPING=1");
        }
    }

    private void writePidFile() throws IOException {
        Path tmp = pidFile.resolveSibling(pidFile.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, ProcessHandle.current().pid() + "\n", StandardCharsets.US_ASCII);
            Files.move(tmp, pidFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw Cli.about(pidFile, e);
        }
        pidFileWritten = true;
    }

    /** Removes the pid file this process wrote. */
    @Override
    public void close() {
        if (pidFileWritten) {
            try {
                Files.deleteIfExists(pidFile);
            } catch (IOException e) {
                LOG.warning("cannot remove " + pidFile + ": " + Cli.describe(e));
            }
        }
    }
}

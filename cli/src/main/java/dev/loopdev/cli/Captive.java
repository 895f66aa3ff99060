package dev.loopdev.cli;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * nbdkit's captive mode: {@code --run CMD} runs {@code sh -c CMD} with the server's address in its environment
 * ({@code $uri}, {@code $nbd}, {@code $unixsocket}, {@code $port}, {@code $exportname}, {@code $tls}); the server
 * lives as long as the command, and then exits with its status. The command shares our stdin, stdout and stderr.
 */
final class Captive {
    private static final Logger LOG = Logger.getLogger(Captive.class.getName());
    private static final long TERM_GRACE_SECONDS = 10;

    private final Process process;

    private Captive(Process process) {
        this.process = process;
    }

    static Captive start(String command, Map<String, String> env, Shutdown shutdown) throws IOException {
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", command).inheritIO();
        Map<String, String> e = pb.environment();
        // The socket-activation variables were for us; a child must not think they are for it.
        e.remove("LISTEN_PID");
        e.remove("LISTEN_FDS");
        e.remove("LISTEN_FDNAMES");
        e.putAll(env);
        Process p = pb.start();
        p.onExit().thenRun(() -> shutdown.trigger("the --run command exited"));
        return new Captive(p);
    }

    /**
     * The command's exit status, once it has exited. If we are stopping for another reason (a signal), the
     * command is asked to stop (SIGTERM) and, after a grace period, killed; like sh, 128 + signal then.
     */
    int finish() throws InterruptedException {
        if (process.isAlive()) {
            LOG.info("stopping the --run command");
            process.destroy();
            if (!process.waitFor(TERM_GRACE_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
        return process.waitFor();
    }
}

package dev.loopdev.cli;

import dev.loopdev.nbd.NbdServer;
import picocli.CommandLine.Option;

/** How long a client may take to negotiate, and how many clients the server takes at once: serve's limits. */
final class AdmissionOptions {
    @Option(names = "--handshake-limit", paramLabel = "SECONDS",
            description = "Close a client that has not finished negotiating within SECONDS of connecting, as "
                    + "qemu-nbd does (0: no limit). Default: ${DEFAULT-VALUE}.")
    long handshakeSeconds = NbdServer.Tuning.HANDSHAKE_MILLIS / 1000;

    @Option(names = "--max-clients", paramLabel = "N",
            description = "Serve at most N clients at once. Beyond it the client that has been negotiating longest "
                    + "is closed to make room; a client is turned away only when all N are past negotiation. "
                    + "Default: ${DEFAULT-VALUE}.")
    int maxClients = NbdServer.Tuning.MAX_CONNECTIONS;

    /** {@code base} with these limits. */
    NbdServer.Tuning apply(NbdServer.Tuning base) {
        if (handshakeSeconds < 0 || handshakeSeconds > Long.MAX_VALUE / 1000) {
            throw new IllegalArgumentException("--handshake-limit must be 0 or more seconds, not " + handshakeSeconds);
        }
        if (maxClients < 1) {
            throw new IllegalArgumentException("--max-clients must be at least 1, not " + maxClients);
        }
        return base.withAdmission(maxClients, handshakeSeconds * 1000);
    }
}

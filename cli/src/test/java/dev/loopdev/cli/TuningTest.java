package dev.loopdev.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loopdev.nbd.NbdServer;
import org.junit.jupiter.api.Test;

/** The server's tuning is decided here, in cli: the defaults, or what its system properties ask for. */
class TuningTest {
    @Test
    void defaultsUnlessAPropertySaysOtherwise() {
        NbdServer.Tuning d = NbdServer.Tuning.defaults();
        assertEquals(d, Cli.tuning());
        System.setProperty("loopdev.nbd.workers", "3");
        System.setProperty("loopdev.nbd.inlineBytes", "4096");
        System.setProperty("loopdev.nbd.inlineWriteBytes", "2048");
        try {
            NbdServer.Tuning t = Cli.tuning();
            assertEquals(3, t.workers());
            assertEquals(4096, t.maxInlineBytes());
            assertEquals(2048, t.maxInlineWriteBytes());
            assertEquals(d.inPlace(), t.inPlace());
            assertEquals(d.maxInFlightBytes(), t.maxInFlightBytes());
            assertEquals(d.maxConnections(), t.maxConnections());
        } finally {
            System.clearProperty("loopdev.nbd.workers");
            System.clearProperty("loopdev.nbd.inlineBytes");
            System.clearProperty("loopdev.nbd.inlineWriteBytes");
        }
    }
}

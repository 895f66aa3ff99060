package dev.loopdev.e2e;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Runs a Python snippet in nbdsh against a server. The snippet sees {@code h} connected with libnbd's strict
 * mode off, so every request, however wrong, reaches the server: its answer is what is under test, not libnbd's
 * own checks. A failed {@code assert} or an unexpected exception exits non-zero with a traceback.
 */
public final class Nbdsh {
    private static final String PRELUDE = """
            import errno, os, random, nbd
            h.set_strict_mode(0)
            h.connect_uri(os.environ["NBD_URI"])
            size = h.get_size()

            def errname(e):
                return e.errno if isinstance(e.errno, str) else errno.errorcode.get(e.errno, str(e.errno))

            def fails(want, what, fn, *args):
                \"""Runs fn(*args), which must fail with one of the errno names in want; returns the name.\"""
                try:
                    fn(*args)
                except nbd.Error as e:
                    got = errname(e)
                    assert got in want, f"{what}: {got} ({e.string}), want one of {sorted(want)}"
                    return got
                raise AssertionError(f"{what}: succeeded, want one of {sorted(want)}")

            def alive():
                \"""The connection still serves after an error reply.\"""
                h.pread(512, 0)

            """;

    private Nbdsh() {
    }

    public static Tools.Result run(LoopdevServer server, String body) {
        return run(server, body, Map.of());
    }

    /** As {@link #run(LoopdevServer, String)}, with more environment for the snippet (paths, never keys). */
    public static Tools.Result run(LoopdevServer server, String body, Map<String, String> env) {
        Tools.require("nbdsh");
        Map<String, String> all = new java.util.HashMap<>(env);
        all.put("NBD_URI", server.uri());
        Tools.Result r = Tools.run(Duration.ofSeconds(60), all, List.of("nbdsh", "-c", PRELUDE + body));
        server.assertAlive();
        return r;
    }

    /** Runs the snippet and asserts it succeeded (every assert in it held). */
    public static Tools.Result ok(LoopdevServer server, String body) {
        return ok(server, body, Map.of());
    }

    public static Tools.Result ok(LoopdevServer server, String body, Map<String, String> env) {
        Tools.Result r = run(server, body, env);
        if (r.exitCode() != 0) {
            throw new AssertionError("nbdsh script failed\n" + r.describe() + "\n" + server.stderr());
        }
        return r;
    }
}

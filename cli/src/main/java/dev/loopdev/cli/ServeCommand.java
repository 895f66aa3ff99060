package dev.loopdev.cli;

import dev.loopdev.BlockDevice;
import dev.loopdev.LoopDevice;
import dev.loopdev.StatisticsDevice;
import dev.loopdev.nbd.ErrorReplies;
import dev.loopdev.nbd.Export;
import dev.loopdev.nbd.NbdServer;
import dev.loopdev.nbd.TlsMode;
import java.io.Closeable;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code loopdev serve IMAGE}: serve files over NBD until SIGINT, SIGTERM or SIGHUP, or, with {@code --run}, until a
 * command ends. Prints one line on stdout, the URI a client should use (not with --run unless --print-uri: stdout
 * is then the command's); everything else goes to stderr.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Serve files as block devices over NBD.")
final class ServeCommand implements Callable<Integer> {
    private static final Logger LOG = Logger.getLogger(ServeCommand.class.getName());

    @Parameters(index = "0", arity = "0..1", paramLabel = "IMAGE", description = "The backing file.")
    Path image;

    @Option(names = "--listen", paramLabel = "HOST:PORT",
            description = "TCP address to listen on (port 0: any free port). Default 127.0.0.1:10809 unless "
                    + "--unix or --run is given, or the socket comes from systemd (LISTEN_FDS).")
    String listen;

    @Option(names = "--unix", paramLabel = "PATH", description = "Unix socket to listen on.")
    Path unix;

    @Option(names = "--export", paramLabel = "NAME=IMAGE|NAME",
            description = "NAME=IMAGE adds an export (repeatable); a bare NAME names IMAGE's export (default: the "
                    + "empty name). The first export is also the default one.")
    List<String> exportSpecs = new ArrayList<>();

    @Option(names = "--create", paramLabel = "SIZE",
            description = "Create missing images as sparse files of SIZE (1G and 1GiB are 2^30 bytes, 1GB 10^9; "
                    + "1.5G is fine), once every other option has been checked.")
    String create;

    @Mixin
    TlsOptions tls = new TlsOptions();

    @Option(names = "--run", paramLabel = "CMD",
            description = "Run CMD with sh -c, $uri $nbd $unixsocket $port $exportname $tls set; exit with its status "
                    + "when it ends (nbdkit's captive mode). Without --listen or --unix, on a private unix socket.")
    String run;

    @Option(names = "--print-uri", description = "Print the URI even with --run.")
    boolean printUri;

    @Option(names = "--stats", description = "Print requests, bytes and errors per command, and the error replies "
            + "clients were sent, on stderr at exit and on SIGUSR1.")
    boolean stats;

    @Mixin
    Readiness ready = new Readiness();

    @Mixin
    LogOptions log;

    @Spec
    CommandSpec spec;

    @Mixin
    DeviceOptions device;

    @Mixin
    AdmissionOptions admission = new AdmissionOptions();

    @Override
    public Integer call() throws Exception {
        if (ready.mustFork() && (run != null || SocketActivation.requested())) {
            throw new IllegalArgumentException("--fork and " + (run != null ? "--run exclude each other: the server "
                    + "lives as long as the command" : "socket activation exclude each other: the service manager "
                    + "keeps the process"));
        }
        return ready.run(spec, device, this::serve);
    }

    private int serve() throws Exception {
        // Every option is checked, and the TLS credentials read, before a file is created or a socket bound.
        List<ExportSpec> specs = ExportSpec.resolve(image, exportSpecs);
        device.check();
        long createBytes = create == null ? -1 : Sizes.parse("--create", create);
        TlsMode tlsMode = tls.mode();
        tls.credentials();
        if (tlsMode == TlsMode.ON) {
            LOG.warning("--tls on: TLS is optional, so a client that does not ask for it reads and writes the "
                    + "disk in plain text (with credentials and no --tls, TLS is required)");
        }
        boolean activated = SocketActivation.requested();
        if (activated && (listen != null || unix != null)) {
            throw new IllegalArgumentException("socket activation (LISTEN_FDS) and --listen/--unix exclude each other");
        }
        Path privateDir = null;
        Path unixPath = unix;
        if (run != null && listen == null && unix == null && !activated) {
            privateDir = Files.createTempDirectory("loopdev-");
            unixPath = privateDir.resolve("nbd.sock");
        }
        InetSocketAddress tcp = listen != null ? Addresses.parse(listen)
                : unixPath == null && !activated ? new InetSocketAddress("127.0.0.1", 10809) : null;
        Shutdown shutdown = Shutdown.onSignals();
        List<BlockDevice> devices = new ArrayList<>();
        // Bound before any image is opened: a port in use fails at once, with one line and nothing touched.
        ServerSocketChannel tcpChannel = tcp == null ? null : bindTcp(tcp);
        try (CreatedFiles created = new CreatedFiles();
             Closeable closeListener = () -> closeQuietly(tcpChannel);
             Closeable closeDevices = () -> closeAll(devices)) {
            List<Export> exports = new ArrayList<>();
            for (ExportSpec s : specs) {
                if (createBytes >= 0) {
                    created.createIfMissing(s.image(), createBytes, "--create " + create);
                }
                LoopDevice dev = device.open(s.image());
                BlockDevice served = stats ? new StatisticsDevice(dev) : dev;
                devices.add(served);
                exports.add(new Export(s.name(), served));
                LOG.info(s.image() + ": export '" + s.name() + "', " + DeviceOptions.describe(dev));
            }
            int status;
            ErrorReplies errors;
            try (NbdServer server = new NbdServer(exports, admission.apply(Cli.tuning()))) {
                errors = server.errorReplies();
                if (stats) {
                    Shutdown.onUsr1(() -> printStats(exports, errors));
                }
                server.tls(tlsMode, tls.credentials());
                status = serve(server, exports.get(0).name(), tcpChannel, unixPath, activated, shutdown, created);
            }
            if (stats) {
                printStats(exports, errors); // after the last request: the final figures
            }
            return status;
        } finally {
            if (privateDir != null) {
                Files.deleteIfExists(privateDir.resolve("nbd.sock"));
                Files.deleteIfExists(privateDir);
            }
        }
    }

    /** Listens, announces, and waits; returns the exit status (the --run command's, or 0). */
    private int serve(NbdServer server, String export, ServerSocketChannel tcp, Path unixPath, boolean activated,
                      Shutdown shutdown, CreatedFiles created) throws IOException, InterruptedException {
        Addresses.TlsUri tlsUri = tls.uri();
        Map<String, String> env = new HashMap<>();
        String uri = null;
        if (activated) {
            server.listenOn(SocketActivation.take());
        }
        if (tcp != null) {
            InetSocketAddress bound = (InetSocketAddress) tcp.getLocalAddress();
            server.listenOn(tcp);
            uri = Addresses.uri(bound, export, tlsUri);
            env.put("port", Integer.toString(bound.getPort()));
            env.put("nbd", Addresses.legacy(bound, null, export));
        }
        if (unixPath != null) {
            try {
                server.listenUnix(unixPath);
            } catch (IOException e) {
                throw Cli.about(unixPath, e);
            }
            Path abs = unixPath.toAbsolutePath();
            uri = uri == null ? Addresses.uri(abs, export, tlsUri) : uri;
            env.put("unixsocket", abs.toString());
            env.putIfAbsent("nbd", Addresses.legacy(null, abs, export));
        }
        if (uri != null) {
            env.put("uri", uri);
        }
        env.put("exportname", export);
        env.put("tls", Integer.toString(tls.mode().ordinal()));
        created.keep(); // serving: what --create made stays
        ready.ready(uri != null && (run == null || printUri) ? uri : null);
        Captive captive = run == null ? null : Captive.start(run, env, shutdown);
        String why = shutdown.await();
        ready.stopping();
        LOG.info(why + ": closing connections and flushing");
        return captive == null ? 0 : captive.finish();
    }

    private static void printStats(List<Export> exports, ErrorReplies errors) {
        StringBuilder b = new StringBuilder();
        for (Export e : exports) {
            if (e.device() instanceof StatisticsDevice s) {
                b.append("export '").append(e.name()).append("':").append(System.lineSeparator())
                        .append(s.report().indent(2));
            }
        }
        b.append(errors.report()).append(System.lineSeparator()); // what clients were told, whatever the cause
        System.err.print(b);
        System.err.flush();
    }

    private static ServerSocketChannel bindTcp(InetSocketAddress address) throws IOException {
        ServerSocketChannel ssc = ServerSocketChannel.open();
        try {
            ssc.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ssc.bind(address, NbdServer.BACKLOG);
            return ssc;
        } catch (BindException e) {
            ssc.close();
            throw new BindException(Addresses.show(address) + ": " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            ssc.close();
            throw e;
        }
    }

    private static void closeQuietly(ServerSocketChannel c) {
        if (c != null) {
            try {
                c.close(); // already closed by the server when it got that far
            } catch (IOException ignored) {
                // nothing to do about a listener we are abandoning
            }
        }
    }

    /** Closes every device (each flushes first, as losetup -d); the first failure is reported. */
    private static void closeAll(List<BlockDevice> devices) throws IOException {
        IOException first = null;
        for (BlockDevice d : devices) {
            try {
                d.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }
}

package dev.loopdev.cli;

import dev.loopdev.LoopDevice;
import dev.loopdev.nbd.Export;
import dev.loopdev.nbd.NbdServer;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code loopdev serve IMAGE}: serve a file over NBD until SIGINT or SIGTERM. Prints one line on stdout, the URI a
 * client should use; everything else goes to stderr.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Serve a file as a block device over NBD.")
final class ServeCommand implements Callable<Integer> {
    private static final Logger LOG = Logger.getLogger(ServeCommand.class.getName());

    @Parameters(index = "0", paramLabel = "IMAGE", description = "The backing file.")
    Path image;

    @Option(names = "--listen", paramLabel = "HOST:PORT",
            description = "TCP address to listen on (port 0: any free port). Default 127.0.0.1:10809 unless "
                    + "only --unix is given.")
    String listen;

    @Option(names = "--unix", paramLabel = "PATH", description = "Unix socket to listen on.")
    Path unix;

    @Option(names = "--export", paramLabel = "NAME", defaultValue = "",
            description = "Export name (default: the empty name, the default export).")
    String exportName;

    @Option(names = "--create", paramLabel = "SIZE",
            description = "Create IMAGE as a sparse file of SIZE when it does not exist (suffixes K, M, G, T).")
    String create;

    @Option(names = {"-v", "--verbose"}, description = "Log each connection and refused request.")
    boolean verbose;

    @Mixin
    DeviceOptions device;

    @Override
    public Integer call() throws Exception {
        Logs.configure(verbose);
        InetSocketAddress tcp = listen != null ? Addresses.parse(listen)
                : unix == null ? new InetSocketAddress("127.0.0.1", 10809) : null;
        if (create != null) {
            createIfMissing(image, Cli.parseSize(create));
        }
        Shutdown shutdown = Shutdown.onSignals();
        try (LoopDevice dev = device.open(image); NbdServer server = new NbdServer(new Export(exportName, dev))) {
            String uri = null;
            if (tcp != null) {
                uri = Addresses.uri(listenTcp(server, tcp), exportName);
            }
            if (unix != null) {
                server.listenUnix(unix);
                String unixUri = Addresses.uri(unix.toAbsolutePath(), exportName);
                uri = uri == null ? unixUri : uri;
            }
            LOG.info("serving " + image + " (" + dev.size() + " bytes, " + dev.writePath().name().toLowerCase()
                    + " write path" + (dev.isReadOnly() ? ", read-only" : "") + ")");
            System.out.println(uri);
            System.out.flush();
            String why = shutdown.await();
            LOG.info(why + ": closing connections and flushing the device");
        }
        return 0;
    }

    private static InetSocketAddress listenTcp(NbdServer server, InetSocketAddress address) throws IOException {
        try {
            return server.listenTcp(address);
        } catch (BindException e) {
            throw new BindException(Addresses.show(address) + ": " + e.getMessage());
        }
    }

    private static void createIfMissing(Path image, long sizeBytes) throws IOException {
        if (Files.exists(image)) {
            LOG.info(image + " exists; --create leaves it as it is");
            return;
        }
        Files.createFile(image);
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(sizeBytes); // ftruncate: sparse
        }
        LOG.info("created " + image + " (" + sizeBytes + " bytes, sparse)");
    }
}

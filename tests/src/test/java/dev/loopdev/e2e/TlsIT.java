package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.e2e.harness.LoopdevServer;
import dev.loopdev.e2e.harness.Tools;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * STARTTLS against the real clients: nbdcopy and nbdinfo (libnbd, GnuTLS) with pre-shared keys from psktool and
 * with X.509 certificates from certtool, qemu-img with {@code tls-creds-psk}; and plaintext refused under
 * {@code --tls require}.
 */
class TlsIT {
    private static final long MiB = 1 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Tools.require("nbdinfo", "nbdcopy", "qemu-img", "psktool", "certtool", "cmp");
    }

    /** keys.psk in its own directory, as qemu's tls-creds-psk wants it. */
    private Path pskFile() {
        Path pskDir = dir.resolve("psk");
        try {
            Files.createDirectories(pskDir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path keys = pskDir.resolve("keys.psk");
        Tools.ok("psktool", "-u", "alice", "-p", keys.toString());
        return keys;
    }

    /** A CA and a server certificate for localhost / 127.0.0.1, laid out as nbdkit and qemu expect. */
    private Path certificates() throws IOException {
        Path pki = Files.createDirectories(dir.resolve("pki"));
        Path caInfo = Files.writeString(pki.resolve("ca.info"), "cn = loopdev test CA\nca\ncert_signing_key\n"
                + "expiration_days = 2\n");
        Path serverInfo = Files.writeString(pki.resolve("server.info"), "organization = loopdev tests\n"
                + "cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\ntls_www_server\nencryption_key\n"
                + "signing_key\nexpiration_days = 2\n");
        String p = pki + "/";
        Tools.ok("certtool", "--generate-privkey", "--outfile", p + "ca-key.pem");
        Tools.ok("certtool", "--generate-self-signed", "--load-privkey", p + "ca-key.pem", "--template",
                caInfo.toString(), "--outfile", p + "ca-cert.pem");
        Tools.ok("certtool", "--generate-privkey", "--outfile", p + "server-key.pem");
        Tools.ok("certtool", "--generate-certificate", "--load-ca-certificate", p + "ca-cert.pem",
                "--load-ca-privkey", p + "ca-key.pem", "--load-privkey", p + "server-key.pem", "--template",
                serverInfo.toString(), "--outfile", p + "server-cert.pem");
        return pki;
    }

    private void copyAndCompare(String uri, Path image) {
        Path out = dir.resolve("copy.img");
        Tools.ok("nbdcopy", uri, out.toString());
        Tools.ok("cmp", image.toString(), out.toString());
    }

    @Test
    void pskWithNbdcopyAndQemuImg() {
        Path image = Images.random(dir, "disk.img", 16 * MiB, 21);
        Path keys = pskFile();
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--tls", "require", "--tls-psk",
                keys.toString())) {
            assertTrue(server.uri().startsWith("nbds+unix://alice@/?socket="), server.uri());
            assertTrue(server.uri().contains("tls-psk-file="), server.uri());
            copyAndCompare(server.uri(), image);
            String info = Tools.ok("nbdinfo", server.uri()).stdout();
            assertTrue(info.contains("with TLS"), info);

            Path viaQemu = dir.resolve("qemu.img");
            Tools.ok("qemu-img", "convert", "--object", "tls-creds-psk,id=tls0,dir=" + keys.getParent()
                    + ",endpoint=client,username=alice", "--image-opts",
                    "driver=nbd,path=" + server.socket() + ",tls-creds=tls0", "-O", "raw", viaQemu.toString());
            Tools.ok("cmp", image.toString(), viaQemu.toString());

            Tools.Result plain = Tools.run("nbdinfo", "nbd+unix:///?socket=" + server.socket());
            assertNotEquals(0, plain.exitCode(), () -> "plaintext under --tls require\n" + plain.describe());
            server.stop();
        }
    }

    /** Credentials without --tls mean TLS required, as qemu-nbd does: a plaintext client reads nothing. */
    @Test
    void credentialsAloneRequireTls() {
        Path image = Images.random(dir, "disk.img", MiB, 23);
        Path keys = pskFile();
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--tls-psk", keys.toString())) {
            assertTrue(server.uri().startsWith("nbds+unix://alice@/"), server.uri());
            Tools.Result plain = Tools.run("nbdinfo", "nbd+unix:///?socket=" + server.socket());
            assertNotEquals(0, plain.exitCode(), () -> "plaintext read without --tls\n" + plain.describe());
            assertTrue(plain.stdout().contains("without TLS"), plain::describe); // and then refused, as nbdkit does
            copyAndCompare(server.uri(), image);
            server.stop();
            assertFalse(server.stderr().contains("warning"), server.stderr());
        }
    }

    /** --tls on stays for "optional": plaintext clients are served, and the log says so loudly. */
    @Test
    void tlsOnIsOptionalAndSaysSo() {
        Path image = Images.random(dir, "disk.img", MiB, 24);
        Path keys = pskFile();
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--tls", "on", "--tls-psk", keys.toString())) {
            copyAndCompare("nbd+unix:///?socket=" + server.socket(), image);
            copyAndCompare(server.uri(), image);
            server.stop();
            assertTrue(server.stderr().contains("loopdev: warning: --tls on: TLS is optional, so a client that does "
                    + "not ask for it reads and writes the disk in plain text"), server.stderr());
        }
    }

    @Test
    void wrongPskIsRefused() throws IOException {
        Path image = Images.random(dir, "disk.img", MiB, 22);
        Path keys = pskFile();
        Path other = dir.resolve("other.psk");
        Tools.ok("psktool", "-u", "alice", "-p", other.toString()); // same identity, another key
        try (LoopdevServer server = LoopdevServer.unix(dir, image, "--tls", "require", "--tls-psk",
                keys.toString())) {
            String uri = server.uri().replace(keys.toString(), other.toString());
            Tools.Result r = Tools.run("nbdinfo", "--size", uri);
            assertNotEquals(0, r.exitCode(), r::describe);
            server.assertAlive();
            server.stop();
        }
    }

    @Test
    void x509WithNbdcopyOverTcp() throws IOException {
        Path image = Images.random(dir, "disk.img", 16 * MiB, 23);
        Path pki = certificates();
        try (LoopdevServer server = LoopdevServer.tcp(dir, image, "--tls", "require", "--tls-certificates",
                pki.toString())) {
            assertTrue(server.uri().startsWith("nbds://127.0.0.1:"), server.uri());
            copyAndCompare(server.uri(), image);
            // Writes too: copy a new image in, then check the file behind the export.
            Path src = Images.random(dir, "src.img", 16 * MiB, 24);
            Tools.ok("nbdcopy", src.toString(), server.uri());
            server.stop();
            Tools.ok("cmp", src.toString(), image.toString());
        }
    }
}

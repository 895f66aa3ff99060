package dev.loopdev.cli;

import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** {@code HOST:PORT} parsing and the NBD URIs we print (the libnbd / qemu URI syntax). */
final class Addresses {
    private Addresses() {
    }

    /** {@code HOST:PORT}, with an IPv6 host in brackets: {@code [::1]:10809}. */
    static InetSocketAddress parse(String s) {
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw new IllegalArgumentException("--listen wants HOST:PORT, not '" + s + "'");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--listen: bad port in '" + s + "'");
        }
        InetSocketAddress a = new InetSocketAddress(host, port);
        if (a.isUnresolved()) {
            throw new IllegalArgumentException("--listen: cannot resolve host '" + host + "'");
        }
        return a;
    }

    static String show(InetSocketAddress a) {
        String host = a.getAddress().getHostAddress();
        return (a.getAddress() instanceof Inet6Address ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /**
     * How a client reaches a TLS server, in the URI: libnbd takes the PSK identity as the user and the key file or
     * certificate directory as a query parameter ({@code nbds://alice@host/?tls-psk-file=...}).
     */
    record TlsUri(String user, String parameter, Path path) {
        static final TlsUri NONE = new TlsUri(null, null, null);

        boolean on() {
            return parameter != null;
        }
    }

    static String uri(InetSocketAddress bound, String export) {
        return uri(bound, export, TlsUri.NONE);
    }

    static String uri(Path socket, String export) {
        return uri(socket, export, TlsUri.NONE);
    }

    static String uri(InetSocketAddress bound, String export, TlsUri tls) {
        String query = tls.on() ? "?" + tls.parameter() + "=" + encode(tls.path().toString(), true) : "";
        return (tls.on() ? "nbds://" : "nbd://") + user(tls) + show(bound) + "/" + encode(export, false) + query;
    }

    static String uri(Path socket, String export, TlsUri tls) {
        String query = tls.on() ? "&" + tls.parameter() + "=" + encode(tls.path().toString(), true) : "";
        return (tls.on() ? "nbds+unix://" : "nbd+unix://") + user(tls) + "/" + encode(export, false)
                + "?socket=" + encode(socket.toString(), true) + query;
    }

    /** qemu's legacy syntax, which nbdkit's captive mode offers as {@code $nbd}. */
    static String legacy(InetSocketAddress bound, Path socket, String export) {
        String where = socket != null ? "unix:" + socket : show(bound);
        return "nbd:" + where + (export.isEmpty() ? "" : ":exportname=" + export);
    }

    private static String user(TlsUri tls) {
        return tls.user() == null ? "" : encode(tls.user(), true) + "@";
    }

    /** Percent-encodes all but RFC 3986 unreserved characters and '/'; in a query value '&' and '=' too. */
    private static String encode(String s, boolean queryValue) {
        StringBuilder b = new StringBuilder();
        for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (x & 0xff);
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
                b.append(c);
            } else {
                b.append('%').append(Character.forDigit((c >> 4) & 0xf, 16)).append(Character.forDigit(c & 0xf, 16));
            }
        }
        return b.toString();
    }
}

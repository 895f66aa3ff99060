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

    static String uri(InetSocketAddress bound, String export) {
        return "nbd://" + show(bound) + "/" + encode(export, false);
    }

    static String uri(Path socket, String export) {
        return "nbd+unix:///" + encode(export, false) + "?socket=" + encode(socket.toString(), true);
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

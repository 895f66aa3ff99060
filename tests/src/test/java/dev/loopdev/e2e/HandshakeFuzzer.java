package dev.loopdev.e2e;

import static dev.loopdev.nbd.Nbd.OPT_ABORT;
import static dev.loopdev.nbd.Nbd.OPT_EXPORT_NAME;
import static dev.loopdev.nbd.Nbd.OPT_GO;
import static dev.loopdev.nbd.Nbd.OPT_INFO;
import static dev.loopdev.nbd.Nbd.OPT_LIST;
import static dev.loopdev.nbd.Nbd.OPT_STRUCTURED_REPLY;
import static dev.loopdev.nbd.Nbd.REP_ACK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.nbd.Nbd;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * One fuzzed negotiation: a few options the server must answer and go on from (unknown ones, malformed INFO and
 * GO, LIST and STRUCTURED_REPLY with data, an unknown export name), in random order, then one way of ending: GO or
 * EXPORT_NAME and a read of known data, or one the server must answer by closing (bad client flags, bad option
 * magic, an option too large to be honest, an unknown name to EXPORT_NAME, too many options, ABORT), or the client
 * cutting an option short or vanishing. And the slow ones: GO sent a few bytes at a time with pauses (served, well
 * within the handshake limit), or a client that stops half-way through a message, or sends nothing at all: those
 * are left {@linkplain #lingering() lingering} for the caller to see closed by the server once the limit has passed,
 * while the next rounds go on.
 */
final class HandshakeFuzzer {
    static final int REP_SERVER = 2;
    static final int REP_INFO = 3;
    static final int ERR_UNSUP = 0x80000001;
    static final int ERR_INVALID = 0x80000003;
    static final int ERR_UNKNOWN = 0x80000006;

    enum Ending { GO, EXPORT_NAME, EXPORT_NAME_UNKNOWN, ABORT, BAD_CLIENT_FLAGS, BAD_OPTION_MAGIC, OVERSIZED_OPTION,
        TRUNCATED_OPTION, TOO_MANY_OPTIONS, VANISH, TRICKLED_GO, STALLED, IDLE }

    /** A client left connected, mid-handshake, since {@code sinceNanos}: the server must close it at its limit. */
    record Lingering(NbdTestClient client, long sinceNanos, String what) {
    }

    private final Random r;
    private final long exportSize;
    private final long knownOffset;
    private final byte[] known;
    final List<String> log = new ArrayList<>();
    private Lingering lingering;

    /** {@code known} is what the export holds at {@code knownOffset}: a session that gets through reads it. */
    HandshakeFuzzer(Random r, long exportSize, long knownOffset, byte[] known) {
        this.r = r;
        this.exportSize = exportSize;
        this.knownOffset = knownOffset;
        this.known = known;
    }

    Ending run(Path socket) throws IOException {
        Ending end = Ending.values()[r.nextInt(Ending.values().length)];
        long since = System.nanoTime();
        NbdTestClient c = NbdTestClient.connect(socket);
        try {
            if (end == Ending.IDLE) {
                lingering = new Lingering(c, since, "a client that sent nothing");
                return end;
            }
            assertEquals(3, c.greeting() & 3, "fixed newstyle and no zeroes offered");
            if (end == Ending.BAD_CLIENT_FLAGS) {
                c.sendBytes(ByteBuffer.allocate(4).putInt(1 | 4 << r.nextInt(29)).flip());
                assertEquals(0, c.awaitClose(), "bytes after unknown client flags");
                return end;
            }
            boolean noZeroes = r.nextBoolean();
            c.sendBytes(ByteBuffer.allocate(4).putInt(noZeroes ? 3 : 1).flip());
            for (int i = r.nextInt(7); i > 0; i--) {
                answeredOption(c);
            }
            log.add("end " + end);
            if (end == Ending.STALLED) {
                byte[] go = goOption();
                int cut = 1 + r.nextInt(go.length - 1);
                trickle(c, java.util.Arrays.copyOf(go, cut), 50);
                lingering = new Lingering(c, since, "a client that stopped after " + cut + " bytes of GO");
                return end;
            }
            ending(c, end, noZeroes);
        } finally {
            if (lingering == null) {
                c.close();
            }
        }
        return end;
    }

    /** The client this round left mid-handshake, or null. */
    Lingering lingering() {
        return lingering;
    }

    /** GO for the default export, as bytes on the wire. */
    private static byte[] goOption() {
        byte[] data = NbdTestClient.infoRequest("", Nbd.INFO_BLOCK_SIZE);
        return ByteBuffer.allocate(16 + data.length).putLong(Nbd.IHAVEOPT).putInt(OPT_GO).putInt(data.length)
                .put(data).array();
    }

    /** Sends {@code bytes} a few at a time, with pauses adding up to at most {@code pauseMillisMax}. */
    private void trickle(NbdTestClient c, byte[] bytes, int pauseMillisMax) throws IOException {
        int pauses = Math.max(1, pauseMillisMax);
        for (int at = 0; at < bytes.length; ) {
            int n = Math.min(bytes.length - at, 1 + r.nextInt(3));
            c.sendBytes(ByteBuffer.wrap(bytes, at, n));
            at += n;
            int pause = Math.min(pauses, r.nextInt(15));
            pauses -= pause;
            sleep(pause);
        }
    }

    private static void sleep(int millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void ending(NbdTestClient c, Ending end, boolean noZeroes) throws IOException {
        switch (end) {
            case GO -> {
                c.goOnly("");
                transmission(c);
            }
            case TRICKLED_GO -> {
                trickle(c, goOption(), 300);
                List<NbdTestClient.OptionReply> replies = c.optionReplies();
                assertEquals(REP_ACK, replies.get(replies.size() - 1).type(), "GO sent a few bytes at a time");
                transmission(c);
            }
            case EXPORT_NAME -> {
                c.option(OPT_EXPORT_NAME, ByteBuffer.allocate(0));
                ByteBuffer b = c.readBytes(10 + (noZeroes ? 0 : 124));
                assertEquals(exportSize, b.getLong(), "export size from EXPORT_NAME");
                transmission(c);
            }
            case EXPORT_NAME_UNKNOWN -> {
                c.option(OPT_EXPORT_NAME, utf8("no-such-export-" + r.nextInt(1000)));
                assertEquals(0, c.awaitClose(), "bytes after EXPORT_NAME of an unknown export");
            }
            case ABORT -> {
                c.option(OPT_ABORT, ByteBuffer.allocate(0));
                assertTrue(c.awaitClose() <= 20, "at most an ACK after ABORT");
            }
            case BAD_OPTION_MAGIC -> {
                c.sendBytes(ByteBuffer.allocate(16).putLong(r.nextLong() | 1).putInt(OPT_GO).putInt(0).flip());
                assertEquals(0, c.awaitClose(), "bytes after a bad option magic");
            }
            case OVERSIZED_OPTION -> {
                int length = (64 << 10) + 1 + r.nextInt(Integer.MAX_VALUE - (64 << 10));
                c.sendBytes(ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(r.nextInt(16))
                        .putInt(length).flip());
                assertEquals(0, c.awaitClose(), "bytes after an option of " + length + " bytes");
            }
            case TRUNCATED_OPTION -> {
                int length = 2 + r.nextInt(1000);
                c.sendBytes(ByteBuffer.allocate(16 + length / 2).putLong(Nbd.IHAVEOPT).putInt(OPT_GO)
                        .putInt(length).position(16 + length / 2).flip());
                c.shutdownOutput();
                assertEquals(0, c.awaitClose(), "bytes after an option cut short");
            }
            case TOO_MANY_OPTIONS -> {
                try {
                    for (int i = 0; i <= 256; i++) {
                        c.option(1000 + i, ByteBuffer.allocate(0));
                    }
                } catch (IOException closedWhileWeWrote) {
                    // The options answered before this ending count too: the server may close (and reset the
                    // socket, our refusals unread) while we are still writing. That is the end we expect.
                    log.add("closed while flooding: " + closedWhileWeWrote.getMessage());
                }
                c.awaitClose(); // 256 refusals, then the end
            }
            case VANISH -> {
                if (r.nextBoolean()) {
                    c.sendBytes(ByteBuffer.allocate(10).putLong(Nbd.IHAVEOPT).flip());
                }
            }
            default -> throw new AssertionError(end);
        }
    }

    /** An option the server must answer with a reply of the given kind, and then go on negotiating. */
    private void answeredOption(NbdTestClient c) throws IOException {
        switch (r.nextInt(9)) {
            case 0 -> {
                int option = new int[] {0, 4, 12, 13, 0x1000, -1}[r.nextInt(6)];
                expectOnly(c, option, randomBytes(r.nextInt(2048)), ERR_UNSUP);
            }
            case 8 -> {
                // Known options with garbage after them (STARTTLS, LIST/SET_META_CONTEXT, EXTENDED_HEADERS): an
                // error reply, whichever the server finds first, and the negotiation goes on.
                int option = new int[] {5, 9, 10, 11}[r.nextInt(4)];
                log.add("option " + option + " with garbage, expect an error");
                c.option(option, randomBytes(1 + r.nextInt(2048)));
                NbdTestClient.OptionReply reply = c.optionReply();
                assertEquals(option, reply.option(), "the option a reply answers");
                assertTrue(reply.type() < 0, () -> "an error reply to option " + option + " with garbage, not 0x"
                        + Integer.toHexString(reply.type()));
            }
            case 1 -> {
                c.option(OPT_LIST, ByteBuffer.allocate(0));
                NbdTestClient.OptionReply server = c.optionReply();
                assertEquals(REP_SERVER, server.type(), "LIST: a SERVER reply");
                assertEquals(REP_ACK, c.optionReply().type(), "LIST: then ACK");
            }
            case 2 -> expectOnly(c, OPT_LIST, randomBytes(1 + r.nextInt(64)), ERR_INVALID);
            case 3 -> expectOnly(c, OPT_STRUCTURED_REPLY, randomBytes(1 + r.nextInt(64)), ERR_INVALID);
            case 4 -> {
                c.option(OPT_INFO, ByteBuffer.allocate(8).putInt(0).putShort((short) 1).putShort((short) 3).flip());
                NbdTestClient.OptionReply info;
                boolean sawExport = false;
                while ((info = c.optionReply()).type() == REP_INFO) {
                    ByteBuffer p = ByteBuffer.wrap(info.data());
                    if (p.getShort() == 0) {
                        assertEquals(exportSize, p.getLong(), "INFO_EXPORT size");
                        sawExport = true;
                    }
                }
                assertEquals(REP_ACK, info.type(), "INFO ends with ACK");
                assertTrue(sawExport, "INFO sends INFO_EXPORT");
            }
            case 5 -> expectOnly(c, r.nextBoolean() ? OPT_INFO : OPT_GO, randomBytes(r.nextInt(6)), ERR_INVALID);
            case 6 -> {
                // A name length past the end of the data, or an info count that does not match the data.
                ByteBuffer d = r.nextBoolean()
                        ? ByteBuffer.allocate(6).putInt(7 + r.nextInt(1 << 20)).putShort((short) 0)
                        : ByteBuffer.allocate(8).putInt(0).putShort((short) (2 + r.nextInt(100))).putShort((short) 1);
                expectOnly(c, r.nextBoolean() ? OPT_INFO : OPT_GO, d.flip(), ERR_INVALID);
            }
            default -> {
                byte[] name = utf8("nope" + r.nextInt(100)).array();
                ByteBuffer d = ByteBuffer.allocate(6 + name.length).putInt(name.length).put(name).putShort((short) 0);
                expectOnly(c, r.nextBoolean() ? OPT_INFO : OPT_GO, d.flip(), ERR_UNKNOWN);
            }
        }
    }

    private void expectOnly(NbdTestClient c, int option, ByteBuffer data, int type) throws IOException {
        log.add("option " + option + " (" + data.remaining() + " bytes), expect 0x" + Integer.toHexString(type));
        c.option(option, data);
        NbdTestClient.OptionReply reply = c.optionReply();
        assertEquals(option, reply.option(), "the option a reply answers");
        assertEquals(type, reply.type(), () -> "reply to option " + option + ": " + new String(reply.data(),
                StandardCharsets.UTF_8));
    }

    /** A session that got through reads the known bytes, then leaves politely. */
    private void transmission(NbdTestClient c) throws IOException {
        assertArrayEquals(known, c.read(knownOffset, known.length), "known data after negotiation");
        c.disconnect();
        assertEquals(0, c.awaitClose(), "bytes after DISC");
    }

    private ByteBuffer randomBytes(int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    private static ByteBuffer utf8(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }
}

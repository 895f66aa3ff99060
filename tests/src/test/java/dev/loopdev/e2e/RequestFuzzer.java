package dev.loopdev.e2e;

import static dev.loopdev.nbd.Nbd.CMD_FLAG_FUA;
import static dev.loopdev.nbd.Nbd.CMD_FLAG_NO_HOLE;
import static dev.loopdev.nbd.Nbd.CMD_FLUSH;
import static dev.loopdev.nbd.Nbd.CMD_READ;
import static dev.loopdev.nbd.Nbd.CMD_TRIM;
import static dev.loopdev.nbd.Nbd.CMD_WRITE;
import static dev.loopdev.nbd.Nbd.CMD_WRITE_ZEROES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loopdev.Errno;
import dev.loopdev.nbd.Nbd;
import dev.loopdev.nbd.testing.NbdTestClient;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * One round of transmission-phase fuzzing on one negotiated connection: a pipelined batch of well-formed and
 * malformed requests, each with the reply the spec (and our validation order) demands, then one of several ways
 * of ending: polite, DISC with requests after it, garbage, a header or payload cut short, a write too large to
 * skip, or simply vanishing.
 *
 * <p>Requests in a batch may run in any order, so each one gets slots (4 KiB) of the model region that nothing
 * else in the batch touches. The model is updated when a request is sent; a round whose replies are never read
 * marks its writes unknown (the server may or may not have run them). A WRITE whose payload was cut short may
 * have landed as far as its payload arrived (received in place, its own unacknowledged range may be torn) and no
 * further: the sectors of what was sent become unknown, the rest of its slots stay known. Anything after DISC
 * must never be applied: those slots stay known.
 */
final class RequestFuzzer {
    static final int SLOT = 4096;

    enum Ending { POLITE, DISC_THEN_MORE, BAD_MAGIC, HALF_HEADER, CUT_PAYLOAD, CUT_PAYLOAD_AND_VANISH, HUGE_WRITE,
        VANISH }

    /** What the reply to one request must be; a successful READ returns what the model holds at {@code offset}. */
    private record Expect(String what, int error, long offset, boolean read) {
    }

    private final Random r;
    private final Model model;
    private final long exportSize;
    private final Set<Integer> busy = new HashSet<>();
    private final Map<Long, Expect> expected = new HashMap<>();
    private final List<long[]> writes = new ArrayList<>();
    final List<String> log = new ArrayList<>();

    RequestFuzzer(Random r, Model model, long exportSize) {
        this.r = r;
        this.model = model;
        this.exportSize = exportSize;
    }

    /** Runs the round on {@code c}; returns how it ended. The caller then checks the model against the export. */
    Ending run(NbdTestClient c) throws IOException {
        int n = 1 + r.nextInt(48);
        for (int i = 0; i < n; i++) {
            request(c);
        }
        Ending end = Ending.values()[r.nextInt(Ending.values().length)];
        log.add("end " + end);
        switch (end) {
            case POLITE -> {
                collect(c, expected.size());
                c.disconnect();
                assertEquals(0, c.awaitClose(), "bytes after DISC");
            }
            case DISC_THEN_MORE -> {
                c.disconnect();
                long[] late = slots(1 + r.nextInt(2));
                byte[] data = random((int) late[1]);
                try {   // never applied: the server stops reading at DISC (it may even reset us)
                    c.send(0, CMD_WRITE, late[0], data.length, data);
                    c.send(0, CMD_FLUSH, 0, 0, null);
                } catch (IOException closedAlready) {
                    log.add("late requests refused by a closed socket");
                }
                collectUntilEnd(c);
            }
            case BAD_MAGIC -> {
                ByteBuffer junk = ByteBuffer.allocate(28 + r.nextInt(100));
                r.nextBytes(junk.array());
                junk.putInt(0, 0x25609513 ^ (1 + r.nextInt(Integer.MAX_VALUE)));
                c.sendBytes(junk);
                collectUntilEnd(c);
            }
            case HALF_HEADER -> {
                c.sendBytes(header(CMD_READ, 0, 0, 512).limit(1 + r.nextInt(27)));
                c.shutdownOutput();
                collectUntilEnd(c);
            }
            case CUT_PAYLOAD, CUT_PAYLOAD_AND_VANISH -> {
                long[] s = slots(1 + r.nextInt(4));
                ByteBuffer w = header(CMD_WRITE, 0, s[0], (int) s[1]);
                c.sendBytes(w);
                int sent = r.nextInt((int) s[1]);
                c.sendBytes(ByteBuffer.wrap(random(sent)));
                if (sent > 0) {
                    model.forget(s[0], sent);
                }
                if (end == Ending.CUT_PAYLOAD) {
                    c.shutdownOutput();
                    collectUntilEnd(c);
                } else {
                    vanish(c);
                }
            }
            case HUGE_WRITE -> {
                long length = (64L << 20) + 1 + (long) r.nextInt(Integer.MAX_VALUE);
                c.sendBytes(header(CMD_WRITE, 0, model.base, (int) length));
                collectUntilEnd(c);
            }
            case VANISH -> vanish(c);
        }
        return end;
    }

    private void vanish(NbdTestClient c) {
        c.close();
        for (long[] w : writes) {
            model.forget(w[0], (int) w[1]);
        }
        expected.clear();
    }

    /** Reads exactly {@code count} replies, checking each against what its request must get. */
    private void collect(NbdTestClient c, int count) throws IOException {
        for (int i = 0; i < count; i++) {
            check(c.receive());
        }
        assertTrue(expected.isEmpty(), () -> "requests without a reply: " + expected.values());
    }

    /** Reads replies until the server closes: every request sent whole is answered once, then the end. */
    private void collectUntilEnd(NbdTestClient c) throws IOException {
        for (NbdTestClient.SimpleReply reply; (reply = c.receiveOrEnd()) != null; ) {
            check(reply);
        }
        assertTrue(expected.isEmpty(), () -> "the server closed without answering: " + expected.values());
    }

    private void check(NbdTestClient.SimpleReply reply) {
        Expect e = expected.remove(reply.cookie());
        assertNotNull(e, () -> "a reply to cookie " + reply.cookie() + ", which is not outstanding (twice?)");
        assertEquals(e.error(), reply.error(), () -> "error of " + e.what());
        if (e.read() && e.error() == 0) {
            assertNotNull(reply.data(), e.what());
            // Nothing else in the batch touches these slots, so the model still says what they held at send time.
            if (reply.data().length > 0) {
                model.assertMatches(e.offset(), reply.data(), e.what());
            }
        }
    }

    private void request(NbdTestClient c) throws IOException {
        int pick = r.nextInt(100);
        if (pick < 22) {
            long[] s = span();
            expect(c.send(0, CMD_READ, s[0], (int) s[1], null), "READ", s, 0, true);
        } else if (pick < 44) {
            long[] s = span();
            byte[] data = random((int) s[1]);
            model.write(s[0], data);
            writes.add(s);
            expect(c.send(r.nextBoolean() ? CMD_FLAG_FUA : 0, CMD_WRITE, s[0], data.length, data), "WRITE", s, 0, false);
        } else if (pick < 52) {
            long[] s = span();
            model.zero(s[0], (int) s[1]);
            writes.add(s);
            short flags = (short) ((r.nextBoolean() ? CMD_FLAG_FUA : 0) | (r.nextBoolean() ? CMD_FLAG_NO_HOLE : 0));
            expect(c.send(flags, CMD_WRITE_ZEROES, s[0], (int) s[1], null), "WRITE_ZEROES", s, 0, false);
        } else if (pick < 57) {
            long[] s = span();
            model.forget(s[0], (int) s[1]); // advisory: zeros or the old bytes
            expect(c.send(0, CMD_TRIM, s[0], (int) s[1], null), "TRIM", s, 0, false);
        } else if (pick < 62) {
            expect(c.send(0, CMD_FLUSH, 0, 0, null), "FLUSH", null, 0, false);
        } else {
            malformed(c, pick);
        }
    }

    /** Requests that must be refused, with the connection going on; a refused WRITE's payload is skipped. */
    private void malformed(NbdTestClient c, int pick) throws IOException {
        if (pick < 67) {
            short type = (short) new int[] {5, 7, 8, 9, 12, 255, 0x7fff, 0xffff}[r.nextInt(8)];
            expect(c.send(0, type, r.nextLong(), r.nextInt(), null), "command " + (type & 0xffff), null,
                    Errno.EINVAL.code, false);
        } else if (pick < 74) {
            short flags = (short) (1 << (2 + r.nextInt(14)) | (r.nextBoolean() ? CMD_FLAG_FUA : 0));
            long[] s = slots(1);
            short type = new short[] {CMD_READ, CMD_WRITE, CMD_FLUSH, CMD_TRIM}[r.nextInt(4)];
            byte[] payload = type == CMD_WRITE ? random(SLOT) : null;
            expect(c.send(flags, type, type == CMD_FLUSH ? 0 : s[0], type == CMD_FLUSH ? 0 : SLOT, payload),
                    "type " + type + " with flags 0x" + Integer.toHexString(flags & 0xffff), s, Errno.EINVAL.code, false);
        } else if (pick < 86) {
            // Beyond the end, or wrapping around 2^64: Errno.ENOSPC.code for what writes, Errno.EINVAL.code for the rest.
            long offset = r.nextBoolean() ? exportSize - r.nextInt(SLOT) : -1L - r.nextInt(SLOT);
            int length = SLOT + 1 + r.nextInt(SLOT);
            short type = new short[] {CMD_READ, CMD_WRITE, CMD_TRIM, CMD_WRITE_ZEROES}[r.nextInt(4)];
            int error = type == CMD_WRITE || type == CMD_WRITE_ZEROES ? Errno.ENOSPC.code : Errno.EINVAL.code;
            expect(c.send(0, type, offset, length, type == CMD_WRITE ? random(length) : null),
                    "type " + type + " at " + Long.toUnsignedString(offset), null, error, false);
        } else if (pick < 90) {
            int length = (32 << 20) + 1 + r.nextInt(32 << 20);
            expect(c.send(0, CMD_READ, 0, length, null), "READ of " + length, null, Errno.EOVERFLOW.code, false);
        } else if (pick < 95) {
            expect(c.send(0, CMD_FLUSH, r.nextInt(SLOT), 1 + r.nextInt(SLOT), null), "FLUSH with a range",
                    null, Errno.EINVAL.code, false);
        } else if (r.nextInt(10) != 0) {
            long offset = (long) (r.nextDouble() * exportSize);
            short type = new short[] {CMD_READ, CMD_WRITE, CMD_TRIM, CMD_WRITE_ZEROES}[r.nextInt(4)];
            expect(c.send(0, type, offset, 0, type == CMD_WRITE ? new byte[0] : null),
                    "zero-length type " + type, null, 0, type == CMD_READ);
        } else {
            // Larger than the maximum but small enough to skip: refused, payload read and dropped, never applied.
            long[] s = slots(1);
            int length = (32 << 20) + 1 + r.nextInt(1 << 20);
            expect(c.send(0, CMD_WRITE, s[0], length, new byte[length]), "WRITE of " + length, s,
                    Errno.EOVERFLOW.code, false);
        }
    }

    private void expect(long cookie, String what, long[] span, int error, boolean read) {
        String where = span == null ? "" : " [" + span[0] + ", +" + span[1] + ")";
        Expect e = new Expect(what + where + " cookie " + cookie, error, span == null ? -1 : span[0], read);
        log.add(e.what());
        expected.put(cookie, e);
    }

    /** A random range over 1 to 4 slots no other request of this batch touches: {offset, length}. */
    private long[] span() {
        long[] s = slots(1 + r.nextInt(4));
        int from = r.nextInt(SLOT);
        int length = 1 + r.nextInt((int) s[1] - from);
        return new long[] {s[0] + from, length};
    }

    /** {@code count} consecutive slots not yet used by this batch: {offset, length}. */
    private long[] slots(int count) {
        int slotsInModel = model.bytes.length / SLOT;
        int start = r.nextInt(slotsInModel);
        for (int k = 0; k < slotsInModel; k++) {
            int first = (start + k) % (slotsInModel - count + 1);
            boolean free = true;
            for (int i = first; i < first + count; i++) {
                free &= !busy.contains(i);
            }
            if (free) {
                for (int i = first; i < first + count; i++) {
                    busy.add(i);
                }
                return new long[] {model.base + (long) first * SLOT, (long) count * SLOT};
            }
        }
        throw new IllegalStateException("the model region is too small for a batch this large");
    }

    /** The slots this round touched, to read back once it is over: {offset, length} each. */
    List<long[]> touched() {
        List<long[]> out = new ArrayList<>();
        for (int i : busy) {
            out.add(new long[] {model.base + (long) i * SLOT, SLOT});
        }
        return out;
    }

    private byte[] random(int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    private static ByteBuffer header(int type, int flags, long offset, int length) {
        return ByteBuffer.allocate(28).putInt(Nbd.REQUEST_MAGIC).putShort((short) flags).putShort((short) type)
                .putLong(0xdeadL).putLong(offset).putInt(length).flip();
    }
}

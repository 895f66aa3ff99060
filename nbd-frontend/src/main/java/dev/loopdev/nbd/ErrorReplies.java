package dev.loopdev.nbd;

import dev.loopdev.Errno;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/**
 * The error replies a server sent, by command and error: what its clients were told, whether the device failed
 * or the request was refused at the edge (out of range, read-only, a malformed request). nbdkit's stats filter
 * counts the same per command.
 */
public final class ErrorReplies {
    /** The spec's errors, counted by name; the last column counts any other. */
    private static final Errno[] CODES = {Errno.EPERM, Errno.EIO, Errno.ENOMEM, Errno.EINVAL, Errno.ENOSPC,
        Errno.EOVERFLOW, Errno.ENOTSUP, Errno.ESHUTDOWN};
    /** Commands 0 to 7 by number; anything else is counted as command 8. */
    private static final int COMMANDS = Nbd.CMD_BLOCK_STATUS + 2;

    private final LongAdder[][] counts = new LongAdder[COMMANDS][CODES.length + 1];

    public ErrorReplies() {
        for (LongAdder[] row : counts) {
            for (int i = 0; i < row.length; i++) {
                row[i] = new LongAdder();
            }
        }
    }

    void count(int command, int nbdError) {
        int c = command >= 0 && command < COMMANDS - 1 ? command : COMMANDS - 1;
        int e = CODES.length;
        for (int i = 0; i < CODES.length; i++) {
            if (CODES[i].code == nbdError) {
                e = i;
            }
        }
        counts[c][e].increment();
    }

    /** All error replies sent. */
    public long total() {
        long n = 0;
        for (LongAdder[] row : counts) {
            for (LongAdder a : row) {
                n += a.sum();
            }
        }
        return n;
    }

    /**
     * One line, e.g. {@code error replies: 3 (READ EIO 2, WRITE ENOSPC 1)}, or {@code error replies: 0}.
     */
    public String report() {
        StringBuilder b = new StringBuilder();
        for (int c = 0; c < COMMANDS; c++) {
            for (int e = 0; e <= CODES.length; e++) {
                long n = counts[c][e].sum();
                if (n > 0) {
                    b.append(b.length() == 0 ? " (" : ", ")
                            .append(c < COMMANDS - 1 ? Nbd.commandName(c) : "other").append(' ')
                            .append(e < CODES.length ? CODES[e].name() : "other").append(' ').append(n);
                }
            }
        }
        return String.format(Locale.ROOT, "error replies: %d%s", total(), b.length() == 0 ? "" : b + ")");
    }
}

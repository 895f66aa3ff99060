package dev.loopdev.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loopdev.Errno;
import org.junit.jupiter.api.Test;

class ErrorRepliesTest {
    @Test
    void countsByCommandAndErrorName() {
        ErrorReplies r = new ErrorReplies();
        assertEquals("error replies: 0", r.report());
        r.count(Nbd.CMD_READ, Errno.EIO.code);
        r.count(Nbd.CMD_READ, Errno.EIO.code);
        r.count(Nbd.CMD_WRITE, Errno.ENOSPC.code);
        r.count(Nbd.CMD_READ, 999);
        assertEquals(4, r.total());
        assertEquals("error replies: 4 (READ EIO 2, READ other 1, WRITE ENOSPC 1)", r.report());
    }
}

package dev.loopdev.nbd.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Netlink attributes (struct nlattr: u16 length including the 4-byte header, u16 type, payload padded to 4 bytes),
 * written into and read out of host-order buffers. Nested attributes are attributes whose payload is attributes.
 */
final class NlAttributes {
    static final int NLA_F_NESTED = 0x8000;
    private static final int TYPE_MASK = 0x3fff;

    private final ByteBuffer buf = ByteBuffer.allocate(4096).order(ByteOrder.nativeOrder());

    NlAttributes putU32(int type, int value) {
        header(type, 4).putInt(value);
        return pad();
    }

    NlAttributes putU64(int type, long value) {
        header(type, 8).putLong(value);
        return pad();
    }

    /** A NUL-terminated string, as the kernel's NLA_NUL_STRING and the family names want. */
    NlAttributes putString(int type, String value) {
        byte[] b = (value + "\0").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        header(type, b.length).put(b);
        return pad();
    }

    NlAttributes putNested(int type, NlAttributes inner) {
        ByteBuffer in = inner.bytes();
        header(type | NLA_F_NESTED, in.remaining()).put(in);
        return pad();
    }

    /** The attributes written so far, ready to read. */
    ByteBuffer bytes() {
        return buf.duplicate().flip().order(ByteOrder.nativeOrder());
    }

    private ByteBuffer header(int type, int payloadBytes) {
        buf.putShort((short) (4 + payloadBytes)).putShort((short) type);
        return buf;
    }

    private NlAttributes pad() {
        while (buf.position() % 4 != 0) {
            buf.put((byte) 0);
        }
        return this;
    }

    /** One parsed attribute: its type (flags masked off) and its payload. */
    record Attr(int type, ByteBuffer payload) {
        int u16() {
            return payload.getShort(0) & 0xffff;
        }

        int u32() {
            return payload.getInt(0);
        }
    }

    /** Parses a run of attributes; a malformed tail (impossible from the kernel) ends the run. */
    static List<Attr> parse(ByteBuffer run) {
        ByteBuffer b = run.duplicate().order(ByteOrder.nativeOrder());
        List<Attr> out = new ArrayList<>();
        while (b.remaining() >= 4) {
            int start = b.position();
            int len = b.getShort(start) & 0xffff;
            int type = b.getShort(start + 2) & TYPE_MASK;
            if (len < 4 || len > b.remaining()) {
                break;
            }
            ByteBuffer payload = b.duplicate().position(start + 4).limit(start + len).slice()
                    .order(ByteOrder.nativeOrder());
            out.add(new Attr(type, payload));
            b.position(Math.min(b.limit(), start + ((len + 3) & ~3)));
        }
        return out;
    }

    static Attr find(List<Attr> attrs, int type) {
        for (Attr a : attrs) {
            if (a.type() == type) {
                return a;
            }
        }
        return null;
    }
}

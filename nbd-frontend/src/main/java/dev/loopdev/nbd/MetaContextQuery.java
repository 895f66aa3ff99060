package dev.loopdev.nbd;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The data of LIST_META_CONTEXT and SET_META_CONTEXT: u32 export name length, name, u32 number of queries, then
 * each query as u32 length and string. We offer one context, {@code base:allocation}; every other query, in any
 * namespace (qemu asks for {@code qemu:allocation-depth}, for instance), selects nothing, as the spec asks.
 */
record MetaContextQuery(String exportName, List<String> queries) {
    /** The namespace listing that matches every context in it (LIST only). */
    private static final String BASE_NAMESPACE = "base:";

    /** Parses the option data; null when it is malformed (lengths that run past the end, or bytes left over). */
    static MetaContextQuery parse(ByteBuffer data) {
        String name = string(data);
        if (name == null || data.remaining() < 4) {
            return null;
        }
        long count = Integer.toUnsignedLong(data.getInt());
        if (count > data.remaining() / 4) {
            return null;
        }
        List<String> queries = new ArrayList<>();
        for (long i = 0; i < count; i++) {
            String q = string(data);
            if (q == null) {
                return null;
            }
            queries.add(q);
        }
        return data.hasRemaining() ? null : new MetaContextQuery(name, queries);
    }

    /**
     * The contexts selected. SET: exactly the ones named (no query selects none). LIST: also every context of a
     * namespace named as {@code "base:"}, and all contexts when there is no query.
     */
    List<String> matches(boolean list) {
        if (list && queries.isEmpty()) {
            return List.of(Nbd.BASE_ALLOCATION);
        }
        for (String q : queries) {
            if (q.equals(Nbd.BASE_ALLOCATION) || (list && q.equals(BASE_NAMESPACE))) {
                return List.of(Nbd.BASE_ALLOCATION);
            }
        }
        return List.of();
    }

    private static String string(ByteBuffer data) {
        if (data.remaining() < 4) {
            return null;
        }
        long length = Integer.toUnsignedLong(data.getInt());
        if (length > Nbd.MAX_STRING_BYTES || length > data.remaining()) {
            return null;
        }
        byte[] b = new byte[(int) length];
        data.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }
}

package dev.loopdev.luks;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON that LUKS2 metadata is written in, as a small tree: objects are {@link LinkedHashMap}s (key order kept,
 * as json-c keeps it), arrays {@link List}s, strings {@link String}s, numbers {@link Num} (their literal text, so
 * that what we do not touch is written back as it was), and {@link Boolean} and {@link #NULL}.
 *
 * <p>Parsing is strict (one value, nothing but NUL bytes after it, as cryptsetup's {@code validate_json_area}
 * demands); writing is compact with no escaped slashes, as cryptsetup writes the area
 * ({@code JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE}).
 */
final class Json {
    /** JSON's null. */
    static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    /** A number as written; LUKS2 integers are int64 in json-c. */
    record Num(String text) {
        static Num of(long v) {
            return new Num(Long.toString(v));
        }

        long longValue() {
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException e) {
                throw new LuksException("'" + text + "' is not an integer");
            }
        }
    }

    /** A parse failure, with where it happened. */
    static final class ParseException extends LuksException {
        ParseException(String message, int at) {
            super(message + " at byte " + at);
        }
    }

    private final String text;
    private int at;

    private Json(String text) {
        this.text = text;
    }

    /** Parses the JSON area: one object, then nothing but NUL bytes up to the end of the area. */
    static Map<String, Object> parseArea(byte[] area) {
        int end = 0;
        while (end < area.length && area[end] != 0) {
            end++;
        }
        for (int i = end; i < area.length; i++) {
            if (area[i] != 0) {
                throw new ParseException("data after the JSON text", i);
            }
        }
        String s;
        try {
            s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(area, 0, end)).toString();
        } catch (CharacterCodingException e) {
            throw new ParseException("the JSON area is not UTF-8", 0);
        }
        if (s.isEmpty() || s.charAt(0) != '{') {
            throw new ParseException("the JSON area does not start with '{'", 0);
        }
        return object(parse(s));
    }

    /** Parses one JSON value that makes up the whole of {@code s} (whitespace around it allowed). */
    static Object parse(String s) {
        Json p = new Json(s);
        p.space();
        Object v = p.value(0);
        p.space();
        if (p.at != s.length()) {
            throw new ParseException("data after the JSON value", p.at);
        }
        return v;
    }

    private static final int MAX_DEPTH = 64;

    private Object value(int depth) {
        if (depth > MAX_DEPTH) {
            throw new ParseException("nested too deeply", at);
        }
        if (at >= text.length()) {
            throw new ParseException("unexpected end", at);
        }
        char c = text.charAt(at);
        switch (c) {
            case '{': {
                at++;
                Map<String, Object> m = new LinkedHashMap<>();
                space();
                if (peek('}')) {
                    at++;
                    return m;
                }
                while (true) {
                    space();
                    String k = string();
                    space();
                    expect(':');
                    space();
                    if (m.put(k, value(depth + 1)) != null) {
                        throw new ParseException("duplicate key '" + k + "'", at);
                    }
                    space();
                    if (peek(',')) {
                        at++;
                        continue;
                    }
                    expect('}');
                    return m;
                }
            }
            case '[': {
                at++;
                List<Object> l = new ArrayList<>();
                space();
                if (peek(']')) {
                    at++;
                    return l;
                }
                while (true) {
                    space();
                    l.add(value(depth + 1));
                    space();
                    if (peek(',')) {
                        at++;
                        continue;
                    }
                    expect(']');
                    return l;
                }
            }
            case '"':
                return string();
            case 't':
                literal("true");
                return Boolean.TRUE;
            case 'f':
                literal("false");
                return Boolean.FALSE;
            case 'n':
                literal("null");
                return NULL;
            default:
                return number();
        }
    }

    private Num number() {
        int start = at;
        if (peek('-')) {
            at++;
        }
        int digits = at;
        while (at < text.length() && Character.isDigit(text.charAt(at))) {
            at++;
        }
        if (at == digits || (text.charAt(digits) == '0' && at - digits > 1)) {
            throw new ParseException("not a JSON value", start);
        }
        if (peek('.')) {
            at++;
            int frac = at;
            while (at < text.length() && Character.isDigit(text.charAt(at))) {
                at++;
            }
            if (at == frac) {
                throw new ParseException("bad number", start);
            }
        }
        if (peek('e') || peek('E')) {
            at++;
            if (peek('+') || peek('-')) {
                at++;
            }
            int exp = at;
            while (at < text.length() && Character.isDigit(text.charAt(at))) {
                at++;
            }
            if (at == exp) {
                throw new ParseException("bad number", start);
            }
        }
        return new Num(text.substring(start, at));
    }

    private String string() {
        expect('"');
        StringBuilder b = new StringBuilder();
        while (true) {
            if (at >= text.length()) {
                throw new ParseException("unterminated string", at);
            }
            char c = text.charAt(at++);
            if (c == '"') {
                return b.toString();
            }
            if (c < 0x20) {
                throw new ParseException("control character in a string", at - 1);
            }
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (at >= text.length()) {
                throw new ParseException("unterminated escape", at);
            }
            char e = text.charAt(at++);
            switch (e) {
                case '"', '\\', '/' -> b.append(e);
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'u' -> {
                    if (at + 4 > text.length()) {
                        throw new ParseException("short \\u escape", at);
                    }
                    try {
                        b.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                    } catch (NumberFormatException ex) {
                        throw new ParseException("bad \\u escape", at);
                    }
                    at += 4;
                }
                default -> throw new ParseException("bad escape \\" + e, at - 1);
            }
        }
    }

    private void literal(String word) {
        if (!text.startsWith(word, at)) {
            throw new ParseException("not a JSON value", at);
        }
        at += word.length();
    }

    private boolean peek(char c) {
        return at < text.length() && text.charAt(at) == c;
    }

    private void expect(char c) {
        if (!peek(c)) {
            throw new ParseException("expected '" + c + "'", at);
        }
        at++;
    }

    private void space() {
        while (at < text.length() && " \t\r\n".indexOf(text.charAt(at)) >= 0) {
            at++;
        }
    }

    /** The compact UTF-8 text of {@code v}, as cryptsetup writes it to the JSON area. */
    static byte[] write(Object v) {
        StringBuilder b = new StringBuilder();
        write(v, b);
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Pretty text with two-space indents, as {@code cryptsetup luksDump --dump-json-metadata} prints it. */
    static String pretty(Object v) {
        StringBuilder b = new StringBuilder();
        pretty(v, b, 0);
        return b.toString();
    }

    @SuppressWarnings("unchecked")
    private static void write(Object v, StringBuilder b) {
        if (v instanceof Map<?, ?> m) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : ((Map<String, Object>) m).entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                quote(e.getKey(), b);
                b.append(':');
                write(e.getValue(), b);
            }
            b.append('}');
        } else if (v instanceof List<?> l) {
            b.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) {
                    b.append(',');
                }
                write(l.get(i), b);
            }
            b.append(']');
        } else {
            scalar(v, b);
        }
    }

    @SuppressWarnings("unchecked")
    private static void pretty(Object v, StringBuilder b, int indent) {
        String pad = "  ".repeat(indent + 1);
        if (v instanceof Map<?, ?> m) {
            b.append('{').append('\n');
            int i = 0;
            for (Map.Entry<String, Object> e : ((Map<String, Object>) m).entrySet()) {
                b.append(pad);
                quote(e.getKey(), b);
                b.append(':');
                pretty(e.getValue(), b, indent + 1);
                b.append(++i < m.size() ? ",\n" : "\n");
            }
            b.append("  ".repeat(indent)).append('}');
        } else if (v instanceof List<?> l) {
            b.append('[').append('\n');
            for (int i = 0; i < l.size(); i++) {
                b.append(pad);
                pretty(l.get(i), b, indent + 1);
                b.append(i + 1 < l.size() ? ",\n" : "\n");
            }
            b.append("  ".repeat(indent)).append(']');
        } else {
            scalar(v, b);
        }
    }

    private static void scalar(Object v, StringBuilder b) {
        if (v instanceof String s) {
            quote(s, b);
        } else if (v instanceof Num n) {
            b.append(n.text());
        } else if (v instanceof Long l) {
            b.append(l.longValue());
        } else if (v instanceof Integer i) {
            b.append(i.intValue());
        } else if (v instanceof Boolean bool) {
            b.append(bool.booleanValue());
        } else if (v == NULL) {
            b.append("null");
        } else {
            throw new IllegalArgumentException("not a JSON value: " + v);
        }
    }

    private static void quote(String s, StringBuilder b) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    // Typed access, each failure naming the field: the metadata comes from a file anyone may have edited.

    @SuppressWarnings("unchecked")
    static Map<String, Object> object(Object v) {
        if (!(v instanceof Map<?, ?>)) {
            throw new LuksException("expected a JSON object, found " + kind(v));
        }
        return (Map<String, Object>) v;
    }

    static Map<String, Object> object(Map<String, Object> o, String key, String where) {
        Object v = o.get(key);
        if (!(v instanceof Map<?, ?>)) {
            throw new LuksException(where + ": \"" + key + "\" is " + (v == null ? "missing" : "not an object"));
        }
        return object(v);
    }

    @SuppressWarnings("unchecked")
    static List<Object> array(Map<String, Object> o, String key, String where) {
        Object v = o.get(key);
        if (!(v instanceof List<?>)) {
            throw new LuksException(where + ": \"" + key + "\" is " + (v == null ? "missing" : "not an array"));
        }
        return (List<Object>) v;
    }

    static String string(Map<String, Object> o, String key, String where) {
        Object v = o.get(key);
        if (!(v instanceof String s) || s.isEmpty()) {
            throw new LuksException(where + ": \"" + key + "\" is " + (v == null ? "missing" : "not a string"));
        }
        return s;
    }

    static long integer(Map<String, Object> o, String key, String where) {
        Object v = o.get(key);
        if (!(v instanceof Num n)) {
            throw new LuksException(where + ": \"" + key + "\" is " + (v == null ? "missing" : "not a number"));
        }
        return n.longValue();
    }

    /** A uint64 written as a decimal string, as LUKS2 writes offsets and sizes. */
    static long uint64(Map<String, Object> o, String key, String where) {
        String s = string(o, key, where);
        if (!s.chars().allMatch(Character::isDigit)) {
            throw new LuksException(where + ": \"" + key + "\" is not a decimal number: '" + s + "'");
        }
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new LuksException(where + ": \"" + key + "\" is out of range: " + s);
        }
    }

    private static String kind(Object v) {
        return v == null ? "nothing" : v instanceof String ? "a string" : v instanceof List<?> ? "an array"
                : v instanceof Num ? "a number" : String.valueOf(v);
    }
}

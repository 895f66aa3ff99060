package dev.loopdev.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads scalar fields out of nbdinfo's flat JSON. The suite takes no JSON library as a dependency, and nbdinfo
 * prints one field per line with unique names inside an export object.
 */
final class Json {
    private Json() {
    }

    static long number(String json, String field) {
        return Long.parseLong(scalar(json, field));
    }

    static boolean bool(String json, String field) {
        String v = scalar(json, field);
        if (!v.equals("true") && !v.equals("false")) {
            fail(field + " is not a boolean: " + v + "\n" + json);
        }
        return Boolean.parseBoolean(v);
    }

    static String string(String json, String field) {
        String v = scalar(json, field);
        if (!v.startsWith("\"")) {
            fail(field + " is not a string: " + v + "\n" + json);
        }
        return v.substring(1, v.length() - 1);
    }

    private static String scalar(String json, String field) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(field) + "\"\\s*:\\s*(\"[^\"]*\"|[^,\\s}\\]]+)")
                .matcher(json);
        if (!m.find()) {
            fail("no field " + field + " in\n" + json);
        }
        return m.group(1);
    }
}

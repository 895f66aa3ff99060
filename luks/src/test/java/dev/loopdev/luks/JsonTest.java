package dev.loopdev.luks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The LUKS2 JSON area: parsed strictly, written back byte for byte as cryptsetup writes it. */
class JsonTest {
    /** What cryptsetup 2.6.1 wrote for a fresh luksFormat (its on-disk form: no whitespace, no escaped slashes). */
    static final String CRYPTSETUP = "{\"keyslots\":{\"0\":{\"type\":\"luks2\",\"key_size\":64,\"af\":{\"type\":"
            + "\"luks1\",\"stripes\":4000,\"hash\":\"sha256\"},\"area\":{\"type\":\"raw\",\"offset\":\"32768\","
            + "\"size\":\"258048\",\"encryption\":\"aes-xts-plain64\",\"key_size\":64},\"kdf\":{\"type\":"
            + "\"argon2id\",\"time\":4,\"memory\":65536,\"cpus\":2,\"salt\":"
            + "\"apacVH+PvMMHhxEFEVKWmPS6/s0HkjN3i3kU6pNF3EQ=\"}}},\"tokens\":{},\"segments\":{\"0\":{\"type\":"
            + "\"crypt\",\"offset\":\"16777216\",\"size\":\"dynamic\",\"iv_tweak\":\"0\",\"encryption\":"
            + "\"aes-xts-plain64\",\"sector_size\":4096}},\"digests\":{\"0\":{\"type\":\"pbkdf2\",\"keyslots\":"
            + "[\"0\"],\"segments\":[\"0\"],\"hash\":\"sha256\",\"iterations\":213820,\"salt\":"
            + "\"IpJD7PbxHvi339BwA72SmWhPdMonrbHBHJ+v+W9Mjd8=\",\"digest\":"
            + "\"49EFMVcGzwv4S0pScbi9xKOtE81xjxUDal/fegHryek=\"}},\"config\":{\"json_size\":\"12288\","
            + "\"keyslots_size\":\"16744448\"}}";

    @Test
    void cryptsetupsTextRoundTripsByteForByte() {
        byte[] area = Arrays.copyOf(CRYPTSETUP.getBytes(StandardCharsets.UTF_8), 12288);
        Map<String, Object> json = Json.parseArea(area);
        assertEquals(List.of("keyslots", "tokens", "segments", "digests", "config"), List.copyOf(json.keySet()));
        assertArrayEquals(CRYPTSETUP.getBytes(StandardCharsets.UTF_8), Json.write(json));
    }

    @Test
    void stringsAndNumbersKeepWhatTheyMean() {
        Object v = Json.parse("{\"s\":\"a\\\"b\\\\c\\/d\\u00e9\\n\",\"n\":-12,\"f\":1.5e3,\"t\":true,\"z\":null,"
                + "\"a\":[]}");
        Map<String, Object> m = Json.object(v);
        assertEquals("a\"b\\c/d\u00e9\n", m.get("s"));
        assertEquals(-12, ((Json.Num) m.get("n")).longValue());
        assertEquals("{\"s\":\"a\\\"b\\\\c/d\u00e9\\n\",\"n\":-12,\"f\":1.5e3,\"t\":true,\"z\":null,\"a\":[]}",
                new String(Json.write(v), StandardCharsets.UTF_8));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "[1]", " {}", "{\"a\":1", "{\"a\":1}x", "{\"a\":01}", "{\"a\":\"\u0001\"}",
        "{\"a\":1,\"a\":2}", "{\"a\":tru}", "{'a':1}"})
    void malformedAreasAreRefused(String text) {
        byte[] area = Arrays.copyOf(text.getBytes(StandardCharsets.UTF_8), 64);
        assertThrows(LuksException.class, () -> Json.parseArea(area));
    }

    @Test
    void anythingButZerosAfterTheTextIsRefused() {
        byte[] area = Arrays.copyOf("{}".getBytes(StandardCharsets.UTF_8), 64);
        area[40] = 'x';
        LuksException e = assertThrows(LuksException.class, () -> Json.parseArea(area));
        assertTrue(e.getMessage().contains("data after the JSON text at byte 40"), e.getMessage());
    }

    @Test
    void deepNestingIsBounded() {
        String deep = "{\"a\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}";
        assertThrows(LuksException.class, () -> Json.parse(deep));
    }

    @Test
    void theAfSplitterRoundTripsAndEveryStripeMatters() {
        byte[] key = new byte[64];
        new java.util.Random(1).nextBytes(key);
        byte[] split = AfSplitter.split(key, AfSplitter.STRIPES, "sha256", new java.security.SecureRandom());
        assertEquals(256_000, split.length);
        assertArrayEquals(key, AfSplitter.merge(split, 64, AfSplitter.STRIPES, "sha256"));
        split[100_000] ^= 1; // one bit of one stripe destroys the key
        assertTrue(!Arrays.equals(key, AfSplitter.merge(split, 64, AfSplitter.STRIPES, "sha256")));
    }
}

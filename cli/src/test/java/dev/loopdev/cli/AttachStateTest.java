package dev.loopdev.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The /run/loopdev record of an attached device reads back as it was written, whatever the file's name. */
class AttachStateTest {
    @Test
    void jsonRoundTripsEvenAwkwardNames() {
        AttachState s = new AttachState(3, 4242, "/tmp/a \"quoted\" \\ name\n\u0001.img", 1L << 40, 4096, 2, true,
                1024, 1L << 30, "positional", "aes-xts-plain64", false);
        String json = s.toJson();
        assertEquals(s, AttachState.parse(json));
        assertEquals("/dev/nbd3", s.device());
        assertEquals("\"a\\\"b\\\\c\\n\\u0001\"", AttachState.quote("a\"b\\c\n\u0001"));
    }

    @Test
    void fileIsPerDevice() {
        assertEquals(AttachState.DIR.resolve("nbd7.json"), AttachState.file(7));
    }
}

package dev.loopdev.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class FuseOptionsTest {
    @Test
    void theDefaultsAskForLargeRequestsOnSeveralThreads() {
        List<String> args = FuseOptions.defaults().libfuseArgs(Path.of("/mnt/x"));
        assertEquals(List.of("loopdev", "-f", "-o"), args.subList(0, 3));
        String o = args.get(3);
        assertTrue(o.contains("big_writes") && o.contains("max_write=131072") && o.contains("max_read=131072")
                && o.contains("auto_unmount"), o);
        assertEquals("/mnt/x", args.get(4));
        assertEquals(5, args.size());
    }

    @Test
    void singleThreadedAndDebugChangeTheFlags() {
        List<String> args = FuseOptions.defaults().withSingleThreaded(true).withDebug(true)
                .libfuseArgs(Path.of("/m"));
        assertEquals(List.of("loopdev", "-f", "-s", "-d", "-o"), args.subList(0, 5));
    }

    @Test
    void theFileNameIsOnePathComponent() {
        for (String bad : new String[] {"", "a/b", ".", "..", "x\0y"}) {
            assertThrows(IllegalArgumentException.class, () -> FuseOptions.defaults().withFileName(bad), bad);
        }
        assertEquals("vda", FuseOptions.defaults().withFileName("vda").fileName());
    }
}

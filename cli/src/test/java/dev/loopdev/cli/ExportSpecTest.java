package dev.loopdev.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code serve IMAGE [--export NAME]} and {@code --export NAME=IMAGE}: which exports, named what. */
class ExportSpecTest {
    private static final Path A = Path.of("a.img");

    @Test
    void imageFirstThenNamedExportsInOrder() {
        assertEquals(List.of(new ExportSpec("", A)), ExportSpec.resolve(A, List.of()));
        assertEquals(List.of(new ExportSpec("root", A), new ExportSpec("data", Path.of("d.img"))),
                ExportSpec.resolve(A, List.of("data=d.img", "root")));
        assertEquals(List.of(new ExportSpec("x", Path.of("/i=1.img"))), ExportSpec.resolve(null, List.of("x=/i=1.img")));
    }

    @Test
    void refusalsSayWhatIsWrong() {
        assertEquals("nothing to serve: give IMAGE or --export NAME=IMAGE", message(null, List.of()));
        assertEquals("--export disk: names IMAGE's export, but no IMAGE was given (use --export NAME=IMAGE)",
                message(null, List.of("disk")));
        assertEquals("IMAGE's export is named twice: 'one' and 'two'", message(A, List.of("one", "two")));
        assertEquals("--export b=: no image after '='", message(A, List.of("b=")));
        assertEquals("two exports named 'b'", message(A, List.of("b=x.img", "b=y.img")));
        assertEquals("two exports named ''", message(A, List.of("=x.img")));
    }

    private static String message(Path image, List<String> specs) {
        return assertThrows(IllegalArgumentException.class, () -> ExportSpec.resolve(image, specs)).getMessage();
    }
}

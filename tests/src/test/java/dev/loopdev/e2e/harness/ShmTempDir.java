package dev.loopdev.e2e.harness;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDirFactory;

/**
 * {@code @TempDir(factory = ShmTempDir.class)}: a test's directory in /dev/shm (tmpfs), for tests that write a
 * lot or often and would otherwise wait on the disk, or that need a file system of their own kind.
 */
public final class ShmTempDir implements TempDirFactory {
    @Override
    public Path createTempDirectory(AnnotatedElementContext element, ExtensionContext context) throws IOException {
        return Files.createTempDirectory(Path.of("/dev/shm"), "loopdev-" + context.getRequiredTestClass()
                .getSimpleName() + "-");
    }
}

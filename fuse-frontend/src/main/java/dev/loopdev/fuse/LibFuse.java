package dev.loopdev.fuse;

import java.util.function.Supplier;

/** Loading libfuse 2 (libfuse.so.2), which jnr-fuse binds to: its absence is one clear message. */
final class LibFuse {
    static final String MISSING = "libfuse2 is not installed (libfuse.so.2 was not found); install it, e.g. "
            + "apt-get install libfuse2 fuse3 (fuse3 provides fusermount)";

    private LibFuse() {
    }

    /** Creates a jnr-fuse file system, whose constructor binds the library. */
    static <T> T load(Supplier<T> fileSystem) throws FuseSetupException {
        try {
            return fileSystem.get();
        } catch (LinkageError | RuntimeException e) {
            if (isMissingLibrary(e)) {
                throw new FuseSetupException(MISSING, e);
            }
            throw e;
        }
    }

    private static boolean isMissingLibrary(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UnsatisfiedLinkError || String.valueOf(t.getMessage()).contains("libfuse")) {
                return true;
            }
        }
        return false;
    }
}

package dev.loopdev.cli;

import java.io.Closeable;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * The images {@code --create} made: removed again when the command fails before it serves them, so that a failed
 * run leaves nothing behind; kept once it serves.
 */
final class CreatedFiles implements Closeable {
    private static final Logger LOG = Logger.getLogger(CreatedFiles.class.getName());

    private final List<Path> created = new ArrayList<>();
    private boolean keep;

    /** Creates {@code image} as a sparse file of {@code sizeBytes}, or says how an existing one differs. */
    void createIfMissing(Path image, long sizeBytes, String option) throws IOException {
        if (Files.exists(image)) {
            long found = Files.isRegularFile(image) ? Files.size(image) : -1;
            if (found >= 0 && found != sizeBytes) {
                LOG.warning(image + " exists with " + Sizes.show(found) + ", not the " + Sizes.show(sizeBytes)
                        + " of " + option + ": it is served as it is");
            }
            return;
        }
        try {
            Files.createFile(image);
        } catch (IOException e) {
            throw Cli.about(image, e);
        }
        created.add(image);
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(sizeBytes); // ftruncate: sparse
        } catch (IOException e) {
            throw Cli.about(image, e);
        }
        LOG.info("created " + image + ", " + Sizes.show(sizeBytes) + ", sparse");
    }

    /** The command is serving: nothing is removed. */
    void keep() {
        keep = true;
    }

    @Override
    public void close() {
        if (keep) {
            return;
        }
        for (Path p : created) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                LOG.warning("cannot remove " + p + ", which this failed run created: " + Cli.describe(e));
            }
        }
    }
}

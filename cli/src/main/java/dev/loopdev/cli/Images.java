package dev.loopdev.cli;

import dev.loopdev.transforms.ConversionJournal;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What may back a device, checked before anything is opened, so that a refusal says why. */
final class Images {
    private static final int S_IFMT = 0170000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFCHR = 0020000;
    private static final int S_IFIFO = 0010000;
    private static final int S_IFSOCK = 0140000;

    private Images() {
    }

    /**
     * Refuses, with the reason, a file that cannot back a device: a missing one, a directory, a FIFO, a socket or a
     * character device (none has a size, and reading one consumes it). A regular file or a block device is
     * fine, as for losetup. So is nothing else: an image whose in-place conversion was interrupted is half
     * converted, and is refused with how to finish it.
     */
    static void check(Path image) throws IOException {
        if (!Files.isRegularFile(image)) {
            checkNotRegular(image);
        }
        String unfinished = ConversionJournal.unfinished(image);
        if (unfinished != null) {
            String verb = unfinished.startsWith("encrypt") ? "encrypt" : "decrypt";
            String undo = verb.equals("encrypt") ? "decrypt" : "encrypt";
            throw new FileSystemException(image.toString(), null, "an in-place conversion was interrupted ("
                    + unfinished + "; journal " + ConversionJournal.pathFor(image) + "), so the image is part "
                    + "converted: finish it with the same 'loopdev " + verb + " " + image + " --in-place' command "
                    + "and key; to roll back, finish it, then run 'loopdev " + undo + " --in-place' with them");
        }
    }

    private static void checkNotRegular(Path image) throws IOException {
        int type = (Integer) Files.getAttribute(image, "unix:mode") & S_IFMT; // NoSuchFileException names it
        String what = switch (type) {
            case S_IFBLK -> null;
            case S_IFCHR -> "a character device";
            case S_IFIFO -> "a FIFO";
            case S_IFSOCK -> "a socket";
            default -> Files.isDirectory(image) ? "a directory" : "not a regular file";
        };
        if (what != null) {
            throw new FileSystemException(image.toString(), null, what + ", not a regular file or a block device");
        }
    }
}

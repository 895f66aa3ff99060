package dev.loopdev.cli;

import dev.loopdev.Transform;
import dev.loopdev.transforms.ConversionJournal;
import dev.loopdev.transforms.ImageConverter;
import dev.loopdev.transforms.PlainModeKeys;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** What {@code encrypt} and {@code decrypt} share: SRC to a new DST, or SRC in place through an undo journal. */
abstract class ConvertCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SRC", description = "The image to convert.")
    Path src;

    @Parameters(index = "1", paramLabel = "DST", arity = "0..1",
            description = "The new image (must not exist); omit with --in-place.")
    Path dst;

    @Option(names = "--in-place", description = "Convert SRC itself, crash-safe: an interrupted run is resumed by "
            + "running the same command again (the journal SRC.loopdev-journal holds the chunk in progress).")
    boolean inPlace;

    @Option(names = "--offset", paramLabel = "N", defaultValue = "0",
            description = "Where the encrypted area starts (a multiple of 512; suffixes as for sizes); bytes before it "
                    + "are kept as they are.")
    String offset;

    @Mixin
    TransformOptions transform = new TransformOptions();

    @Mixin
    LogOptions log;

    abstract boolean encrypt();

    @Override
    public Integer call() throws Exception {
        if (inPlace == (dst != null)) {
            throw new IllegalArgumentException(inPlace ? "--in-place takes no DST" : "give DST, or --in-place");
        }
        if (transform.spec(PlainModeKeys.DEFAULT_CIPHER).equals("none")) {
            throw new IllegalArgumentException("--transform none has nothing to convert");
        }
        long off = Sizes.parse("--offset", offset);
        if (!Files.isRegularFile(src)) {
            Images.check(src); // says what it is instead
        }
        if (dst != null) {
            checkTarget(dst);
        }
        String what = encrypt() ? "encrypting" : "decrypting";
        try (Transform t = transform.create(PlainModeKeys.DEFAULT_CIPHER, off, encrypt());
             ProgressReport progress = new ProgressReport(System.err, what + " " + src.getFileName())) {
            ImageConverter c = new ImageConverter(t, encrypt(), off, progress);
            if (inPlace) {
                inPlace(c);
            } else {
                c.copy(src, dst);
            }
        }
        return 0;
    }

    private void inPlace(ImageConverter c) throws IOException {
        try {
            c.inPlace(src, transform.describe(PlainModeKeys.DEFAULT_CIPHER));
        } catch (IOException e) {
            if (ConversionJournal.unfinished(src) == null) {
                throw e;
            }
            throw new IOException(Cli.describe(e) + "; the conversion is interrupted, " + src + " part converted: "
                    + "run the same command again, with the same key, to finish it", e);
        }
    }

    /** DST must be new, in a directory that exists: said before a key is asked for. */
    private static void checkTarget(Path dst) throws IOException {
        if (Files.exists(dst, LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(dst.toString());
        }
        Path dir = dst.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dst.toString(), null, "No such directory: " + dir);
        }
    }
}

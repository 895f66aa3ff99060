package dev.loopdev.cli;

import dev.loopdev.Transform;
import dev.loopdev.transforms.ImageConverter;
import dev.loopdev.transforms.PlainModeKeys;
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
            description = "Where the encrypted area starts (a multiple of 512; suffixes K, M, G); bytes before it "
                    + "are kept as they are.")
    String offset;

    @Mixin
    TransformOptions transform = new TransformOptions();

    abstract boolean encrypt();

    @Override
    public Integer call() throws Exception {
        if (inPlace == (dst != null)) {
            throw new IllegalArgumentException(inPlace ? "--in-place takes no DST" : "give DST, or --in-place");
        }
        if (transform.spec(PlainModeKeys.DEFAULT_CIPHER).equals("none")) {
            throw new IllegalArgumentException("--transform none has nothing to convert");
        }
        long off = Cli.parseSize(offset);
        String what = encrypt() ? "encrypting" : "decrypting";
        try (Transform t = transform.create(PlainModeKeys.DEFAULT_CIPHER, off, encrypt());
             ProgressReport progress = new ProgressReport(System.err, what + " " + src.getFileName())) {
            ImageConverter c = new ImageConverter(t, encrypt(), off, progress);
            if (inPlace) {
                c.inPlace(src, transform.describe(PlainModeKeys.DEFAULT_CIPHER));
            } else {
                c.copy(src, dst);
            }
        }
        return 0;
    }

}

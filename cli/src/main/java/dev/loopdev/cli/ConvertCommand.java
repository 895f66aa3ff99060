package dev.loopdev.cli;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.Transform;
import dev.loopdev.WritePathKind;
import dev.loopdev.luks.LuksDevices;
import dev.loopdev.luks.LuksFormat;
import dev.loopdev.luks.LuksImage;
import dev.loopdev.luks.LuksInPlace;
import dev.loopdev.luks.VolumeKey;
import dev.loopdev.transforms.ConversionJournal;
import dev.loopdev.transforms.DeviceCopy;
import dev.loopdev.transforms.ImageConverter;
import dev.loopdev.transforms.PlainModeKeys;
import dev.loopdev.transforms.PlainTransform;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.logging.Logger;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * What {@code encrypt} and {@code decrypt} share: SRC to a new DST, or SRC in place through an undo journal, for
 * headerless transforms; and to or from a LUKS image ({@code --type luks1|luks2}), through devices.
 */
abstract class ConvertCommand implements Callable<Integer> {
    private static final Logger LOG = Logger.getLogger(ConvertCommand.class.getName());

    @Parameters(index = "0", paramLabel = "SRC", description = "The image to convert.")
    Path src;

    @Parameters(index = "1", paramLabel = "DST", arity = "0..1",
            description = "The new image (must not exist); omit with --in-place.")
    Path dst;

    @Option(names = "--in-place", description = "Convert SRC itself, crash-safe: an interrupted run is resumed by "
            + "running the same command again (the journal SRC.loopdev-journal or, to and from LUKS2, "
            + "SRC.loopdev-luks-journal). To LUKS2 the file grows by the 16 MiB header and the data moves up.")
    boolean inPlace;

    @Option(names = "--offset", paramLabel = "N", defaultValue = "0",
            description = "Where the encrypted area starts (a multiple of 512; suffixes as for sizes); bytes before it "
                    + "are kept as they are. Headerless transforms only.")
    String offset;

    @Option(names = "--type", paramLabel = "plain|luks1|luks2",
            description = "encrypt: plain (headerless, the default) or a new LUKS image; decrypt: LUKS when SRC has a "
                    + "LUKS header, unless plain.")
    String type;

    @Mixin
    TransformOptions transform = new TransformOptions();

    @Mixin
    LuksFormatOptions luksFormat = new LuksFormatOptions();

    @Mixin
    LogOptions log;

    abstract boolean encrypt();

    @Override
    public Integer call() throws Exception {
        if (inPlace == (dst != null)) {
            throw new IllegalArgumentException(inPlace ? "--in-place takes no DST" : "give DST, or --in-place");
        }
        long off = Sizes.parse("--offset", offset);
        if (!Files.isRegularFile(src)) {
            Images.check(src); // says what it is instead
        }
        if (dst != null) {
            checkTarget(dst);
        }
        int luks = luksVersion();
        if (luks > 0) {
            if (off != 0 || transform.ivOffset != 0) {
                throw new IllegalArgumentException("--offset and --iv-offset come from the LUKS header");
            }
            if (inPlace) {
                luksInPlace(luks);
            } else if (encrypt()) {
                toLuks(luks);
            } else {
                fromLuks();
            }
            return 0;
        }
        PlainTransform request = transform.request();
        if (request.spec(PlainModeKeys.DEFAULT_CIPHER).equals("none")) {
            throw new IllegalArgumentException("--transform none has nothing to convert");
        }
        String what = encrypt() ? "encrypting" : "decrypting";
        try (Transform t = request.create(PlainModeKeys.DEFAULT_CIPHER, off, encrypt());
             ProgressReport progress = new ProgressReport(System.err, what + " " + src.getFileName())) {
            ImageConverter c = new ImageConverter(t, encrypt(), off, progress);
            if (inPlace) {
                inPlace(c, request.describe(PlainModeKeys.DEFAULT_CIPHER));
            } else {
                c.copy(src, dst);
            }
        }
        return 0;
    }

    private void inPlace(ImageConverter c, String params) throws IOException {
        try {
            c.inPlace(src, params);
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

    /** 1 or 2 for a LUKS conversion, 0 for a headerless one. */
    private int luksVersion() throws IOException {
        if (inPlace && Files.exists(LuksInPlace.journalFor(src))) {
            return 2; // an interrupted in-place LUKS conversion: its journal says the rest
        }
        if (type == null) {
            return encrypt() ? 0 : LuksImage.probe(src) > 0 ? LuksImage.probe(src) : 0;
        }
        if (type.equals("plain")) {
            return 0;
        }
        return LuksCommand.Versions.parse(type);
    }

    /**
     * SRC to LUKS2 and back in place: the data moves by the header's size, crash-safe through a journal; a rerun
     * of the same command finishes an interrupted one.
     */
    private void luksInPlace(int version) throws IOException {
        boolean resuming = Files.exists(LuksInPlace.journalFor(src));
        byte[] pass = transform.key.source().passphrase("Enter passphrase for " + src + ": ",
                encrypt() && !resuming);
        try (ProgressReport progress = new ProgressReport(System.err, (encrypt() ? "encrypting " : "decrypting ")
                + src.getFileName() + " in place")) {
            if (resuming) {
                LOG.info(src + ": carrying on with the interrupted in-place conversion");
            }
            if (encrypt()) {
                LuksInPlace.encrypt(src, luksOptions(version), pass, progress::update);
            } else {
                LuksInPlace.decrypt(src, pass, progress::update);
            }
        } finally {
            Arrays.fill(pass, (byte) 0);
        }
    }

    private LuksFormat.Options luksOptions(int version) {
        String cipher = transform.spec != null ? transform.spec : "aes-xts-plain64";
        int bits = transform.keyBits != null ? transform.keyBits : cipher.contains("-xts-") ? 512 : 256;
        String hash = transform.hash != null ? transform.hash : "sha256";
        return new LuksFormat.Options(version, cipher, bits, luksFormat.sectorSize,
                luksFormat.kdf.settings(version, hash), luksFormat.label, luksFormat.uuid, 0);
    }

    /** A new LUKS image at DST: the header, then SRC's bytes written through the new image's device. */
    private void toLuks(int version) throws IOException {
        LuksFormat.Options o = luksOptions(version);
        long size = Files.size(src);
        int unit = luksFormat.sectorSize > 0 ? luksFormat.sectorSize : size % 4096 == 0 ? 4096 : 512;
        long padded = (size + unit - 1) / unit * unit;
        if (padded != size) {
            LOG.warning(src + ": " + size + " bytes is not a whole number of " + unit + "-byte sectors; the encrypted "
                    + "image holds " + padded + " (zeros at the end)");
        }
        Path part = partFile(dst);
        try {
            try (RandomAccessFile f = new RandomAccessFile(part.toFile(), "rw")) {
                f.setLength(LuksFormat.defaultDataOffset(o) + padded);
            }
            byte[] pass = transform.key.source().passphrase("Enter passphrase for " + dst + ": ", true);
            try (VolumeKey vk = LuksFormat.format(part, part, o, pass);
                 LuksImage img = LuksImage.open(part, false);
                 LoopDevice plain = LoopDevice.open(LoopConfig.of(src).withReadOnly(true)
                         .withWritePath(WritePathKind.POSITIONAL));
                 LoopDevice encrypted = LoopDevice.open(img.loopConfig(part, vk)
                         .withWritePath(WritePathKind.POSITIONAL));
                 ProgressReport progress = new ProgressReport(System.err, "encrypting " + src.getFileName())) {
                DeviceCopy.copy(plain, encrypted, plain.size(), false, progress);
                if (plain.size() < padded) { // the tail shorter than a block, which the plain device leaves out
                    byte[] tail = new byte[(int) (padded - plain.size())];
                    try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "r")) {
                        f.seek(plain.size());
                        f.readFully(tail, 0, (int) (size - plain.size()));
                    }
                    encrypted.write(java.nio.ByteBuffer.wrap(tail), plain.size(), true);
                }
            } finally {
                Arrays.fill(pass, (byte) 0);
            }
            finish(part, dst);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(part);
            throw e;
        }
    }

    /** A plain image at DST: the LUKS image's data segment, read through its device; zeros become holes again. */
    private void fromLuks() throws IOException {
        Path part = partFile(dst);
        try {
            LoopConfig c = LuksDevices.unlock(src, null, transform.key.source(), -1);
            try (LoopDevice encrypted = LoopDevice.open(c.withReadOnly(true).withWritePath(WritePathKind.POSITIONAL))) {
                try (RandomAccessFile f = new RandomAccessFile(part.toFile(), "rw")) {
                    f.setLength(encrypted.size());
                }
                try (LoopDevice plain = LoopDevice.open(LoopConfig.of(part).withWritePath(WritePathKind.POSITIONAL));
                     ProgressReport progress = new ProgressReport(System.err, "decrypting " + src.getFileName())) {
                    DeviceCopy.copy(encrypted, plain, encrypted.size(), true, progress);
                }
            }
            finish(part, dst);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(part);
            throw e;
        }
    }

    private static Path partFile(Path dst) throws IOException {
        if (Files.exists(dst)) {
            throw new java.nio.file.FileAlreadyExistsException(dst.toString());
        }
        Path part = dst.resolveSibling(dst.getFileName() + ".part");
        Files.deleteIfExists(part);
        return part;
    }

    private static void finish(Path part, Path dst) throws IOException {
        Files.move(part, dst, StandardCopyOption.ATOMIC_MOVE);
        try (var d = java.nio.channels.FileChannel.open(dst.toAbsolutePath().getParent())) {
            d.force(true);
        } catch (IOException e) {
            LOG.fine("cannot sync " + dst.getParent() + ": " + e.getMessage());
        }
    }
}

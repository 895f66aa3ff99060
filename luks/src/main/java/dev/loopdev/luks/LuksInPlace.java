package dev.loopdev.luks;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.WritePathKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * A plain image turned into a LUKS2 image in place, and back, as cryptsetup's {@code reencrypt --encrypt
 * --reduce-device-size} and {@code reencrypt --decrypt} do: the data moves by the header's size (16 MiB), one chunk
 * at a time, so the header fits in front of it. Where cryptsetup works on a block device, whose file system must be
 * shrunk first, an image file simply grows by the header's size when encrypted and shrinks back when decrypted.
 *
 * <p>Crash-safe through a journal beside the image, {@code IMAGE.loopdev-luks-journal}: a LUKS2 header (the new
 * one when encrypting, a copy of the image's when decrypting), which is what unlocks the volume key when an
 * interrupted run resumes, followed by two alternating progress records (sequence number, position, CRC32C).
 * Encryption moves chunks from the end towards the start, decryption from the start towards the end: a chunk's
 * destination never overlaps a source that is still needed, so a chunk cut short by a crash is simply done again.
 * After a crash, running the same command with the same passphrase carries on.
 */
public final class LuksInPlace {
    static final int CHUNK_BYTES = 1 << 20;
    private static final byte[] MAGIC = "loopdev-luks-inplace-1\n".getBytes(StandardCharsets.US_ASCII);
    private static final int RECORD_BYTES = 4096;

    /** Told how far the conversion is. */
    public interface Progress {
        void update(long doneBytes, long totalBytes);
    }

    /** Where a test stops the conversion, as a SIGKILL would. */
    interface CrashPoint {
        void at(String what, long pos) throws IOException;
    }

    static volatile CrashPoint crashPoint = (w, p) -> { };

    private LuksInPlace() {
    }

    public static Path journalFor(Path image) {
        return image.resolveSibling(image.getFileName() + ".loopdev-luks-journal");
    }

    /**
     * Encrypts {@code image} in place into a LUKS2 image with options {@code o}: the file grows by the header's size
     * (16 MiB) and the data moves up by as much, so nothing has to be shrunk first; or carries on with an
     * interrupted run (the passphrase must open the journal's header). A size that is not a whole number of sectors
     * is padded with zeros.
     */
    public static void encrypt(Path image, LuksFormat.Options o, byte[] passphrase, Progress progress)
            throws IOException {
        if (o.version() != 2) {
            throw new LuksException("in-place encryption makes LUKS2 images (--type luks2)");
        }
        checkRegularFile(image);
        Path journal = journalFor(image);
        if (!Files.exists(journal)) {
            if (o.offsetSectors() != 0) {
                throw new LuksException("in-place encryption puts the data after the standard 16 MiB LUKS2 header; "
                        + "it takes no --offset");
            }
            long shift = LuksFormat.defaultDataOffset(o);
            long size = Files.size(image);
            int sectorSize = o.sectorSize() != 0 ? o.sectorSize() : size % 4096 == 0 ? 4096 : 512;
            long dataBytes = (size + sectorSize - 1) / sectorSize * sectorSize;
            if (dataBytes == 0) {
                throw new LuksException(image + " is empty: there is nothing to encrypt");
            }
            LuksFormat.Options placed = new LuksFormat.Options(2, o.cipher(), o.keyBits(), sectorSize, o.kdf(),
                    o.label(), o.uuid(), shift / 512);
            // Made as .part and renamed once complete: a journal that exists is whole (a crash before leaves
            // only a .part, and nothing has moved yet).
            Path part = journal.resolveSibling(journal.getFileName() + ".part");
            Files.deleteIfExists(part);
            Files.createFile(part);
            extendTo(image, shift + dataBytes); // the header format checks the data file's size
            LuksFormat.format(part, image, placed, passphrase).close();
            writeRecord(part, true, shift, 1, dataBytes, shift + dataBytes);
            Files.move(part, journal);
            syncDirectory(journal);
        }
        try (LuksImage header = LuksImage.open(journal, false); VolumeKey key = header.unlock(passphrase, -1)) {
            long shift = header.segment().offsetBytes();
            long finalSize = readRecord(journal, true, shift)[2];
            extendTo(image, finalSize);
            long[] rec = readRecord(journal, true, shift);
            long seq = rec[0];
            long pos = rec[1];
            long dataBytes = finalSize - shift;
            try (LoopDevice plain = LoopDevice.open(LoopConfig.of(image).withSizeLimit(dataBytes).withReadOnly(true)
                         .withWritePath(WritePathKind.POSITIONAL));
                 LoopDevice encrypted = LoopDevice.open(header.loopConfig(image, key)
                         .withWritePath(WritePathKind.POSITIONAL))) {
                ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK_BYTES);
                while (pos > 0) {
                    long from = (pos - 1) / CHUNK_BYTES * CHUNK_BYTES;
                    int len = (int) (pos - from);
                    plain.read(buf.clear().limit(len), from);
                    writeInHalves(encrypted, buf.flip(), from);
                    crashPoint.at("record", from);
                    writeRecord(journal, true, shift, ++seq, from, finalSize);
                    pos = from;
                    progress.update(dataBytes - pos, dataBytes);
                }
            }
            crashPoint.at("header", 0);
            byte[] area = readRange(journal, 0, (int) header.headerBytes().length);
            try (FileChannel img = FileChannel.open(image, StandardOpenOption.WRITE)) {
                writeFully(img, area, 0);
                img.force(false);
            }
        }
        Files.delete(journal);
        syncDirectory(image);
    }

    /**
     * Decrypts the LUKS2 image {@code image} in place into a plain one: its data moves back to the start and the
     * file shrinks to the data's size. Carries on with an interrupted run.
     */
    public static void decrypt(Path image, byte[] passphrase, Progress progress) throws IOException {
        checkRegularFile(image);
        Path journal = journalFor(image);
        if (!Files.exists(journal)) {
            long shift;
            byte[] headerArea;
            long dataBytes;
            try (LuksImage img = LuksImage.open(image, false)) {
                img.unlock(passphrase, -1).close(); // a wrong passphrase stops here, nothing written
                shift = img.segment().offsetBytes();
                if (img.version() != 2 || shift == 0 || !img.segment().isDynamic()) {
                    throw new LuksException(image + ": in-place decryption takes a LUKS2 image with its header in "
                            + "front and one segment to its end");
                }
                headerArea = img.headerBytes();
                long size = Files.size(image) - shift;
                dataBytes = size - size % img.segment().sectorSize();
            }
            Path part = journal.resolveSibling(journal.getFileName() + ".part");
            Files.deleteIfExists(part);
            try (FileChannel j = FileChannel.open(part, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                writeFully(j, headerArea, 0);
                j.force(true);
            }
            writeRecord(part, false, shift, 1, 0, dataBytes);
            Files.move(part, journal);
            syncDirectory(journal);
        }
        try (LuksImage header = LuksImage.open(journal, false); VolumeKey key = header.unlock(passphrase, -1)) {
            long shift = header.segment().offsetBytes();
            long[] rec = readRecord(journal, false, shift);
            long seq = rec[0];
            long pos = rec[1];
            long dataBytes = rec[2];
            if (pos < dataBytes) {
                try (LoopDevice encrypted = LoopDevice.open(header.loopConfig(image, key).withSizeLimit(dataBytes)
                             .withReadOnly(true).withWritePath(WritePathKind.POSITIONAL));
                     LoopDevice plain = LoopDevice.open(LoopConfig.of(image).withSizeLimit(dataBytes)
                             .withWritePath(WritePathKind.POSITIONAL))) {
                    ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK_BYTES);
                    while (pos < dataBytes) {
                        int len = (int) Math.min(CHUNK_BYTES, dataBytes - pos);
                        encrypted.read(buf.clear().limit(len), pos);
                        writeInHalves(plain, buf.flip(), pos);
                        crashPoint.at("record", pos);
                        pos += len;
                        writeRecord(journal, false, shift, ++seq, pos, dataBytes);
                        progress.update(pos, dataBytes);
                    }
                }
            }
            crashPoint.at("tail", pos);
            try (FileChannel img = FileChannel.open(image, StandardOpenOption.WRITE)) {
                img.truncate(dataBytes);
                img.force(true);
            }
        }
        Files.delete(journal);
        syncDirectory(image);
    }

    private static void checkRegularFile(Path image) {
        if (!Files.isRegularFile(image)) {
            throw new LuksException(image + ": in-place conversion works on image files (which grow or shrink by the "
                    + "header's size); for a block device use cryptsetup reencrypt");
        }
    }

    /** Extends the file to {@code size} bytes (sparse), if it is shorter, and syncs. */
    private static void extendTo(Path image, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            if (ch.size() < size) {
                ch.write(ByteBuffer.allocate(1), size - 1);
                ch.force(true);
            }
        }
    }

    /**
     * Writes a chunk in two halves and syncs, with a crash point before and between them: a crash may leave a chunk
     * half moved, which the rerun moves again from its source, still intact.
     */
    private static void writeInHalves(LoopDevice dev, ByteBuffer chunk, long pos) throws IOException {
        int half = chunk.remaining() / 2 / 512 * 512;
        crashPoint.at("chunk", pos);
        dev.write(chunk.duplicate().limit(chunk.position() + half), pos, false);
        crashPoint.at("half", pos);
        dev.write(chunk.duplicate().position(chunk.position() + half), pos + half, false);
        dev.flush();
    }

    /**
     * Writes progress record {@code seq} into the slot it alternates to (at {@code shift} or 4096 bytes after) and
     * syncs: a torn record fails its CRC and the other slot, one chunk older, is used.
     */
    private static void writeRecord(Path journal, boolean encrypt, long shift, long seq, long pos, long size)
            throws IOException {
        ByteBuffer r = ByteBuffer.allocate(RECORD_BYTES);
        r.put(MAGIC).put((byte) (encrypt ? 'E' : 'D')).putLong(seq).putLong(pos).putLong(size);
        CRC32C crc = new CRC32C();
        crc.update(r.array(), 0, r.position());
        r.putLong(crc.getValue());
        try (FileChannel ch = FileChannel.open(journal, StandardOpenOption.WRITE)) {
            writeFully(ch, r.array(), shift + (seq % 2) * RECORD_BYTES);
            ch.force(false);
        }
    }

    /**
     * {sequence, position, size} of the newest valid record, which must be of this direction; the size is the
     * image's final size when encrypting, the data's when decrypting.
     */
    private static long[] readRecord(Path journal, boolean encrypt, long shift) throws IOException {
        long[] best = null;
        for (int slot = 0; slot < 2; slot++) {
            ByteBuffer r = ByteBuffer.wrap(readRange(journal, shift + slot * (long) RECORD_BYTES, RECORD_BYTES));
            byte[] magic = new byte[MAGIC.length];
            r.get(magic);
            byte direction = r.get();
            long seq = r.getLong();
            long pos = r.getLong();
            long size = r.getLong();
            CRC32C crc = new CRC32C();
            crc.update(r.array(), 0, r.position());
            if (Arrays.equals(magic, MAGIC) && r.getLong() == crc.getValue() && (best == null || seq > best[0])) {
                if (direction != (encrypt ? 'E' : 'D')) {
                    throw new LuksException(journal + ": an interrupted in-place " + (encrypt ? "decryption" : "encryption")
                            + " is unfinished; finish it with the same command (loopdev " + (encrypt ? "decrypt"
                            : "encrypt") + " --in-place)");
                }
                best = new long[] {seq, pos, size};
            }
        }
        if (best == null) {
            throw new LuksException(journal + ": no valid progress record; the conversion cannot be resumed safely");
        }
        return best;
    }

    private static byte[] readRange(Path file, long pos, int len) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(len);
            while (b.hasRemaining() && ch.read(b, pos + b.position()) > 0) {
                // until the buffer is full or the file ends
            }
            return b.array();
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) {
                throw new java.io.EOFException("unexpected end of file at " + (pos + b.position()));
            }
        }
    }

    private static void writeFully(FileChannel ch, byte[] data, long pos) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            ch.write(b, pos + b.position());
        }
    }

    private static void syncDirectory(Path file) throws IOException {
        try (FileChannel d = FileChannel.open(file.toAbsolutePath().getParent(), StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // not every file system lets a directory be synced; the files themselves were
        }
    }
}

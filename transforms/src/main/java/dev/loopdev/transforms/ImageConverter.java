package dev.loopdev.transforms;

import dev.loopdev.LoopConfig;
import dev.loopdev.LoopDevice;
import dev.loopdev.Transform;
import dev.loopdev.WritePathKind;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Offline conversion of an image between plain and encrypted, sector for sector as a device with the same
 * transform and offset would see it: bytes before the offset, and a tail shorter than a sector, stay as they are.
 *
 * <p>Both ways read and write through devices over the image files, one without a transform and one with it, so
 * the sector numbering is the device's. To a new file ({@link #copy}), with a {@code .part} file renamed at the
 * end, so a crash leaves the source whole and the destination absent. In place ({@link #inPlace}), through a
 * {@link ConversionJournal}: each chunk's original bytes are saved and synced before the chunk is overwritten, so
 * after a crash a rerun puts the saved chunk back and carries on.
 */
public final class ImageConverter {
    static final int CHUNK_BYTES = 1 << 20;
    private static final int ZERO_SKIP_BYTES = 4096;

    /** Told how far the conversion is, at most once per chunk. */
    public interface Progress {
        void update(long doneBytes, long totalBytes);
    }

    /** Where a test makes the conversion fail, as a pulled plug would. */
    interface Crash {
        void at(String point, long chunk) throws IOException;
    }

    private final Transform transform;
    private final boolean encrypt;
    private final long offset;
    private final Progress progress;
    Crash crash = (point, chunk) -> { };

    /**
     * @param encrypt     plain to encrypted, or the reverse
     * @param offsetBytes where the transformed area starts (a multiple of 512), as the device's {@code --offset}
     */
    public ImageConverter(Transform transform, boolean encrypt, long offsetBytes, Progress progress) {
        if (offsetBytes < 0 || offsetBytes % Transform.SECTOR_SIZE != 0) {
            throw new IllegalArgumentException("the offset must be a multiple of 512");
        }
        this.transform = transform;
        this.encrypt = encrypt;
        this.offset = offsetBytes;
        this.progress = progress;
    }

    /**
     * Converts {@code src} into the new file {@code dst}, through devices: the area is read from a device over
     * {@code src} and written to one over {@code dst}, one of them with the transform, so the sector numbering is
     * the device's. Bytes before the offset and a tail shorter than a sector are copied as they are. Decrypted
     * blocks that come out all zeros are not written, so a decrypted image gets its holes back; an encrypted image
     * has none (zeros encrypt to non-zeros).
     */
    public void copy(Path src, Path dst) throws IOException {
        if (Files.exists(dst)) {
            throw new java.nio.file.FileAlreadyExistsException(dst.toString());
        }
        Path part = dst.resolveSibling(dst.getFileName() + ".part");
        try {
            long size;
            long end;
            try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ);
                 RandomAccessFile out = new RandomAccessFile(part.toFile(), "rw")) {
                size = in.size();
                out.setLength(0);
                out.setLength(size); // sparse: what we do not write stays a hole
                end = areaEnd(size);
                ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES);
                copyRaw(in, out.getChannel(), 0, Math.min(offset, size), buf);
                copyRaw(in, out.getChannel(), Math.max(end, offset), size, buf);
            }
            if (end > offset) {
                Transform lent = lent(transform);
                try (LoopDevice from = device(src, encrypt ? Transform.NONE : lent, true, end - offset);
                     LoopDevice to = device(part, encrypt ? lent : Transform.NONE, false, end - offset)) {
                    DeviceCopy.copy(from, to, end - offset, !encrypt, progress);
                }
            }
            try (FileChannel out = FileChannel.open(part, StandardOpenOption.WRITE)) {
                out.force(true);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(part);
            throw e;
        }
        Files.move(part, dst, StandardCopyOption.ATOMIC_MOVE);
        syncDirectory(dst);
    }

    /** The converted area of {@code file} as a device, on the positional path. */
    private LoopDevice device(Path file, Transform t, boolean readOnly, long length) throws IOException {
        return LoopDevice.open(new LoopConfig(file, offset, length, readOnly, Transform.SECTOR_SIZE,
                WritePathKind.POSITIONAL, t));
    }

    /** The caller's transform lent to a device: closing the device must not close (and wipe) it. */
    private static Transform lent(Transform t) {
        return new Transform() {
            @Override
            public void encode(ByteBuffer plain, ByteBuffer raw, long sector) {
                t.encode(plain, raw, sector);
            }

            @Override
            public void decode(ByteBuffer raw, ByteBuffer plain, long sector) {
                t.decode(raw, plain, sector);
            }

            @Override
            public int sectorSize() {
                return t.sectorSize();
            }

            @Override
            public boolean isIdentity() {
                return t.isIdentity();
            }

            @Override
            public String name() {
                return t.name();
            }
        };
    }

    /**
     * Converts {@code image} in place, resuming from its journal if an earlier run was interrupted. The journal
     * is {@code IMAGE.loopdev-journal}; it is wiped and removed when the conversion completes.
     *
     * <p>Through devices over the image, as {@link #copy}: each chunk is read from a device without a transform for
     * the journal (the bytes on disk), converted by reading it through the source device and writing it through
     * the destination device, one of them with the transform, so the sector numbering is the device's.
     *
     * @param params what must match when resuming (spec, IV offset, ...); never key material
     */
    public void inPlace(Path image, String params) throws IOException {
        Path jpath = ConversionJournal.pathFor(image);
        // The image is opened for writing before the journal is made: one that cannot be written leaves none.
        try (FileChannel img = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE);
             ConversionJournal journal = ConversionJournal.openOrCreate(jpath, encrypt, offset, params)) {
            long end = areaEnd(img.size());
            if (end > offset) {
                Transform lent = lent(transform);
                try (LoopDevice raw = device(image, Transform.NONE, false, end - offset);
                     LoopDevice transformed = device(image, lent, !encrypt, end - offset)) {
                    convertInPlace(journal, raw, encrypt ? raw : transformed, encrypt ? transformed : raw, end);
                }
            }
            img.force(true);
            journal.wipe();
        }
        Files.delete(jpath);
        syncDirectory(image);
    }

    /**
     * The chunks from where the journal says to the end of the area: {@code raw} sees the bytes on disk, {@code from}
     * what is converted and {@code to} where it is written (one of them is {@code raw}). Journal positions are file
     * positions; a device's are counted from the offset.
     */
    private void convertInPlace(ConversionJournal journal, LoopDevice raw, LoopDevice from, LoopDevice to, long end)
            throws IOException {
        ByteBuffer orig = ByteBuffer.allocateDirect(CHUNK_BYTES);
        ByteBuffer conv = ByteBuffer.allocateDirect(CHUNK_BYTES);
        long pos = offset;
        long seq = 0;
        ConversionJournal.Slot last = journal.newest();
        if (last != null) {
            checkKey(journal.previous(last), from, to);
            // back to before the interrupted chunk
            raw.write(ByteBuffer.wrap(last.data()), last.pos() - offset, false);
            raw.flush();
            pos = last.pos();
            seq = last.seq() + 1;
        }
        for (; pos < end; pos += CHUNK_BYTES, seq++) {
            int len = (int) Math.min(CHUNK_BYTES, end - pos);
            raw.read(orig.clear().limit(len), pos - offset);
            journal.save(seq, pos, orig.flip(), crash);
            crash.at("image", seq);
            ByteBuffer chunk = orig.rewind();
            if (from != raw) {
                from.read(conv.clear().limit(len), pos - offset);
                chunk = conv.flip();
            }
            writeInHalves(to, chunk, pos - offset, seq);
            to.flush();
            progress.update(pos + len - offset, end - offset);
        }
    }

    /**
     * The chunk before the interrupted one was finished: read back through {@code to}, it must be what
     * {@code from} made of its saved original. If not, the key or parameters differ from the first run, and going
     * on would mix two keys. A saved ciphertext (when decrypting) is no longer on the image to be read through
     * {@code from}: it is decoded as {@code from} would at that position, numbered by {@link Transform#sectorAt}.
     */
    private void checkKey(ConversionJournal.Slot done, LoopDevice from, LoopDevice to) throws IOException {
        if (done == null) {
            return;
        }
        int len = done.data().length;
        Transform t = from.config().transform();
        ByteBuffer expected = ByteBuffer.wrap(done.data());
        if (!t.isIdentity()) {
            ByteBuffer plain = ByteBuffer.allocate(len);
            t.decode(expected, plain, Transform.sectorAt(done.pos()));
            expected = plain.flip();
        }
        ByteBuffer found = ByteBuffer.allocate(len);
        to.read(found, done.pos() - offset);
        if (!expected.equals(found.flip())) {
            throw new IllegalArgumentException("the interrupted conversion used another key or other options: "
                    + "resume it with the same ones (the journal is kept)");
        }
    }

    private long areaEnd(long size) {
        return size <= offset ? offset : offset + (size - offset) / Transform.SECTOR_SIZE * Transform.SECTOR_SIZE;
    }

    private static void copyRaw(FileChannel in, FileChannel out, long from, long to, ByteBuffer buf)
            throws IOException {
        for (long pos = from; pos < to; pos += buf.capacity()) {
            int len = (int) Math.min(buf.capacity(), to - pos);
            readFully(in, buf.clear().limit(len), pos);
            writeNonZero(out, buf.flip(), pos);
        }
    }

    /** Writes {@code buf} at {@code pos}, skipping 4 KiB blocks that are all zeros (the file is fresh and sparse). */
    private static void writeNonZero(FileChannel out, ByteBuffer buf, long pos) throws IOException {
        int base = buf.position();
        for (int at = base; at < buf.limit(); at += ZERO_SKIP_BYTES) {
            int n = Math.min(ZERO_SKIP_BYTES, buf.limit() - at);
            if (!isZero(buf, at, n)) {
                ByteBuffer block = buf.duplicate().position(at).limit(at + n);
                while (block.hasRemaining()) {
                    out.write(block, pos + block.position() - base);
                }
            }
        }
    }

    private static boolean isZero(ByteBuffer b, int at, int n) {
        int i = 0;
        for (; i + Long.BYTES <= n; i += Long.BYTES) {
            if (b.getLong(at + i) != 0) {
                return false;
            }
        }
        for (; i < n; i++) {
            if (b.get(at + i) != 0) {
                return false;
            }
        }
        return true;
    }

    static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        long p = pos;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, p);
            if (n < 0) {
                throw new java.io.EOFException("unexpected end of file at " + p);
            }
            p += n;
        }
    }

    /**
     * Writes a chunk in two halves, split at a whole sector of the transform: a test stops between them, as a crash
     * would, leaving half the chunk converted and half not.
     */
    private void writeInHalves(LoopDevice to, ByteBuffer chunk, long devPos, long seq) throws IOException {
        int half = chunk.remaining() / 2;
        half -= half % transform.sectorSize();
        to.write(chunk.duplicate().limit(chunk.position() + half), devPos, false);
        crash.at("image-torn", seq);
        to.write(chunk.duplicate().position(chunk.position() + half), devPos + half, false);
    }

    static void syncDirectory(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // not every file system lets a directory be opened and synced; the data itself was synced
        }
    }
}

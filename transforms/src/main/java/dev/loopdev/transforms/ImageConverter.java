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
 * <p>To a new file ({@link #copy}), through devices over both files and a {@code .part} file renamed at the end,
 * so a crash leaves the source whole and the destination absent. In place ({@link #inPlace}), through a {@link ConversionJournal}: each chunk's
 * original bytes are saved and synced before the chunk is overwritten, so after a crash a rerun puts the saved
 * chunk back and carries on.
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
     * @param params what must match when resuming (spec, IV offset, ...); never key material
     */
    public void inPlace(Path image, String params) throws IOException {
        Path jpath = ConversionJournal.pathFor(image);
        try (FileChannel img = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE);
             ConversionJournal journal = ConversionJournal.openOrCreate(jpath, encrypt, offset, params)) {
            long end = areaEnd(img.size());
            ByteBuffer orig = ByteBuffer.allocate(CHUNK_BYTES);
            ByteBuffer conv = ByteBuffer.allocate(CHUNK_BYTES);
            long pos = offset;
            long seq = 0;
            ConversionJournal.Slot last = journal.newest();
            if (last != null) {
                checkKey(img, journal.previous(last), orig, conv);
                img.write(ByteBuffer.wrap(last.data()), last.pos()); // back to before the interrupted chunk
                img.force(false);
                pos = last.pos();
                seq = last.seq() + 1;
            }
            for (; pos < end; pos += CHUNK_BYTES, seq++) {
                int len = (int) Math.min(CHUNK_BYTES, end - pos);
                readFully(img, orig.clear().limit(len), pos);
                journal.save(seq, pos, orig.flip(), crash);
                crash.at("image", seq);
                convert(orig.rewind(), conv.clear(), pos);
                conv.flip();
                writeFully(img, conv, pos, crash, seq);
                img.force(false);
                progress.update(pos + len - offset, end - offset);
            }
            img.force(true);
            journal.wipe();
        }
        Files.delete(jpath);
        syncDirectory(image);
    }

    /**
     * The chunk before the interrupted one was finished: converting its saved original must give what the image
     * holds. If not, the key or parameters differ from the first run, and going on would mix two keys.
     */
    private void checkKey(FileChannel img, ConversionJournal.Slot done, ByteBuffer a, ByteBuffer b)
            throws IOException {
        if (done == null) {
            return;
        }
        convert(ByteBuffer.wrap(done.data()), a.clear(), done.pos());
        readFully(img, b.clear().limit(done.data().length), done.pos());
        if (!a.flip().equals(b.flip())) {
            throw new IllegalArgumentException("the interrupted conversion used another key or other options: "
                    + "resume it with the same ones (the journal is kept)");
        }
    }

    private long areaEnd(long size) {
        return size <= offset ? offset : offset + (size - offset) / Transform.SECTOR_SIZE * Transform.SECTOR_SIZE;
    }

    private void convert(ByteBuffer from, ByteBuffer to, long pos) {
        long sector = pos / Transform.SECTOR_SIZE;
        if (encrypt) {
            transform.encode(from, to, sector);
        } else {
            transform.decode(from, to, sector);
        }
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

    private static void writeFully(FileChannel ch, ByteBuffer buf, long pos, Crash crash, long seq)
            throws IOException {
        int half = buf.remaining() / 2;
        ByteBuffer first = buf.duplicate().limit(buf.position() + half);
        while (first.hasRemaining()) {
            ch.write(first, pos + first.position() - buf.position());
        }
        crash.at("image-torn", seq); // a test stops here: half the chunk converted, half not
        ByteBuffer rest = buf.duplicate().position(buf.position() + half);
        while (rest.hasRemaining()) {
            ch.write(rest, pos + rest.position() - buf.position());
        }
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

package dev.loopdev.transforms;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.logging.Logger;
import java.util.zip.CRC32C;

/**
 * The undo journal of an in-place conversion, next to the image: a header saying what conversion it belongs to,
 * and two slots, used in turn, each holding one chunk's original bytes with its position, a sequence number and a
 * CRC32C over all of them.
 *
 * <p>Invariant: before chunk n is overwritten, slot n % 2 holds its original bytes and has been synced; chunks
 * before it are converted and synced, chunks after it untouched. A slot torn by a crash fails its CRC, and then
 * the other slot, the chunk before, which was completed, is the newest: putting it back and converting again is
 * harmless. So after any crash, restoring the newest valid slot and resuming from its position is correct.
 *
 * <p>During encryption the slot holds plaintext: {@link #wipe()} zeroes it when the conversion is complete.
 */
public final class ConversionJournal implements AutoCloseable {
    private static final byte[] MAGIC = "loopdev-conversion-journal-1\n".getBytes(StandardCharsets.US_ASCII);
    private static final int HEADER_BYTES = 4096;
    private static final int SLOT_HEADER_BYTES = 24;
    private static final int SLOT_BYTES = SLOT_HEADER_BYTES + ImageConverter.CHUNK_BYTES;
    /** Written at the end of the header, and synced, before the slots are wiped: the conversion completed. */
    private static final byte[] COMPLETE = "complete".getBytes(StandardCharsets.US_ASCII);
    private static final int COMPLETE_AT = HEADER_BYTES - COMPLETE.length;
    private static final Logger LOG = Logger.getLogger(ConversionJournal.class.getName());

    /** A saved chunk: its original bytes and where they go back. */
    record Slot(long seq, long pos, byte[] data) {
    }

    private final Path path;
    private final FileChannel ch;

    private ConversionJournal(Path path, FileChannel ch) {
        this.path = path;
        this.ch = ch;
    }

    public static Path pathFor(Path image) {
        return image.resolveSibling(image.getFileName() + ".loopdev-journal");
    }

    /**
     * Opens the journal of an interrupted run, refusing a different conversion, or starts a new one. A journal
     * with no valid slot was left before any chunk was overwritten (a crash or a full disk while it was being
     * created): the image is as it was, so the journal is simply started again. One that says its conversion
     * completed (a crash between {@link #wipe()} and its removal) is removed, and nothing is converted twice.
     */
    static ConversionJournal openOrCreate(Path path, boolean encrypt, long offset, String params) throws IOException {
        byte[] header = header(encrypt, offset, params);
        if (Files.exists(path)) {
            ConversionJournal j = new ConversionJournal(path, FileChannel.open(path, StandardOpenOption.READ,
                    StandardOpenOption.WRITE));
            ByteBuffer found;
            boolean moved;
            try {
                found = j.header();
                moved = j.newest() != null;
            } catch (IOException | RuntimeException e) {
                j.close();
                throw e;
            }
            boolean complete = isComplete(found);
            if (moved && !complete) {
                if (!found.equals(ByteBuffer.wrap(header))) {
                    j.close();
                    throw new IllegalArgumentException(path + " belongs to another conversion ("
                            + describe(found) + "): finish that one first, with the same options");
                }
                return j;
            }
            j.close();
            Files.delete(path);
            if (complete) {
                throw new IllegalStateException(path + ": this conversion had already completed (the journal was "
                        + "left by a crash just before its removal, and is removed now): nothing to do");
            }
            LOG.info(path + ": left before any data was converted; starting again");
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        try {
            writeFully(ch, ByteBuffer.wrap(header), 0);
            ch.force(true);
        } catch (IOException e) {
            // A journal that cannot be written (ENOSPC) must not stay behind: it would stand in the way later.
            ch.close();
            Files.deleteIfExists(path);
            throw named(path, e);
        }
        ImageConverter.syncDirectory(path);
        return new ConversionJournal(path, ch);
    }

    /**
     * What an unfinished in-place conversion of {@code image} was ("encrypt offset=0 aes-xts-plain64 ..."), or
     * null when there is none: no journal, or one from before any data was converted, or one whose conversion
     * completed. An image with an unfinished conversion is part converted, part not.
     */
    public static String unfinished(Path image) throws IOException {
        Path path = pathFor(image);
        if (!Files.exists(path)) {
            return null;
        }
        try (ConversionJournal j = new ConversionJournal(path, FileChannel.open(path, StandardOpenOption.READ))) {
            ByteBuffer found = j.header();
            return isComplete(found) || j.newest() == null ? null : describe(found);
        }
    }

    /** The journal's header, as much of it as the file holds. */
    private ByteBuffer header() throws IOException {
        ByteBuffer found = ByteBuffer.allocate(HEADER_BYTES); // zeros where a torn file ends early
        while (found.hasRemaining() && ch.read(found, found.position()) > 0) {
            // reads until the header is full or the file ends
        }
        return found.clear();
    }

    private static boolean isComplete(ByteBuffer header) {
        return header.slice(COMPLETE_AT, COMPLETE.length).equals(ByteBuffer.wrap(COMPLETE));
    }

    private static byte[] header(boolean encrypt, long offset, String params) {
        String text = (encrypt ? "encrypt" : "decrypt") + " offset=" + offset + " " + params + "\n";
        ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES);
        h.put(MAGIC).put(text.getBytes(StandardCharsets.UTF_8));
        return h.array();
    }

    private static String describe(ByteBuffer header) {
        String s = new String(header.array(), StandardCharsets.UTF_8);
        return s.startsWith(new String(MAGIC, StandardCharsets.US_ASCII))
                ? s.substring(MAGIC.length).replaceAll("[\\x00\\n]+", "").trim() : "not a journal";
    }

    /** Saves chunk {@code seq}'s original bytes in its slot and syncs, before the image is touched. */
    void save(long seq, long pos, ByteBuffer data, ImageConverter.Crash crash) throws IOException {
        int len = data.remaining();
        ByteBuffer slot = ByteBuffer.allocate(SLOT_HEADER_BYTES + len);
        slot.putLong(seq).putLong(pos).putInt(len).putInt(0).put(data.duplicate());
        CRC32C crc = new CRC32C();
        crc.update(slot.array(), 0, slot.capacity());
        slot.putInt(20, (int) crc.getValue()).flip();
        long at = slotAt(seq);
        ByteBuffer half = slot.duplicate().limit(slot.capacity() / 2);
        try {
            writeFully(ch, half, at);
            crash.at("journal-torn", seq);
            writeFully(ch, slot.position(slot.capacity() / 2), at);
            ch.force(false);
        } catch (IOException e) {
            throw named(path, e);
        }
    }

    /** The valid slot with the highest sequence number, or null if none is valid (nothing was overwritten). */
    Slot newest() throws IOException {
        Slot a = read(0);
        Slot b = read(1);
        if (a == null || b == null) {
            return a == null ? b : a;
        }
        return a.seq() > b.seq() ? a : b;
    }

    /** The valid slot of the chunk just before {@code s}, if the journal still has it. */
    Slot previous(Slot s) throws IOException {
        Slot other = read((int) ((s.seq() + 1) % 2));
        return other != null && other.seq() == s.seq() - 1 ? other : null;
    }

    private Slot read(int index) throws IOException {
        long at = HEADER_BYTES + (long) index * SLOT_BYTES;
        if (ch.size() < at + SLOT_HEADER_BYTES) {
            return null;
        }
        ByteBuffer head = ByteBuffer.allocate(SLOT_HEADER_BYTES);
        ImageConverter.readFully(ch, head, at);
        long seq = head.getLong(0);
        long pos = head.getLong(8);
        int len = head.getInt(16);
        int stored = head.getInt(20);
        if (len <= 0 || len > ImageConverter.CHUNK_BYTES || ch.size() < at + SLOT_HEADER_BYTES + len) {
            return null;
        }
        ByteBuffer slot = ByteBuffer.allocate(SLOT_HEADER_BYTES + len);
        ImageConverter.readFully(ch, slot, at);
        slot.putInt(20, 0);
        CRC32C crc = new CRC32C();
        crc.update(slot.array(), 0, slot.capacity());
        if ((int) crc.getValue() != stored) {
            return null;
        }
        byte[] data = new byte[len];
        slot.get(SLOT_HEADER_BYTES, data);
        return new Slot(seq, pos, data);
    }

    /**
     * Marks the conversion complete, then zeroes both slots (they may hold plaintext), syncing each step, before
     * the journal is deleted. In that order a crash never leaves a journal that looks like one from before the
     * first chunk, which would be converted again.
     */
    void wipe() throws IOException {
        writeFully(ch, ByteBuffer.wrap(COMPLETE), COMPLETE_AT);
        ch.force(true);
        ByteBuffer zeros = ByteBuffer.allocate(SLOT_BYTES);
        for (int i = 0; i < 2; i++) {
            if (ch.size() > HEADER_BYTES + (long) i * SLOT_BYTES) {
                writeFully(ch, zeros.clear(), HEADER_BYTES + (long) i * SLOT_BYTES);
            }
        }
        ch.force(true);
    }

    private static long slotAt(long seq) {
        return HEADER_BYTES + (seq % 2) * SLOT_BYTES;
    }

    /** Writes {@code b}'s remaining bytes, each byte i of the buffer going to {@code at + i}. */
    private static void writeFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b, at + b.position());
        }
    }

    /** ENOSPC and the like say which file they are about. */
    private static IOException named(Path path, IOException e) {
        if (e instanceof FileSystemException) {
            return e;
        }
        IOException n = new FileSystemException(path.toString(), null, e.getMessage());
        n.initCause(e);
        return n;
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}

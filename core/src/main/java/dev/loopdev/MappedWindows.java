package dev.loopdev;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;

/**
 * The windows of the backing file that are mapped: at most {@code budgetBytes} of them, each mapped on first use
 * while the budget lasts and kept until the device is closed. What lies outside them is read and written
 * positionally by {@link MappedPages}, so memory stays bounded on an image of any size: the pages mapped (our
 * resident set), their page tables and the per-window page flags all grow with the budget, never with the image.
 *
 * <p>Why windows are never unmapped to make room: a window may be unmapped only once no copy into or out of it
 * is running (touching it afterwards kills the process; it raises no exception), and remapping is dear: an
 * {@code mmap} and {@code munmap} pair costs several small NBD requests, a positional read or write of a few pages
 * a fraction of one. A window outside the budget is therefore better served positionally than remapped, and an
 * image no larger than the budget is mapped whole.
 *
 * <p>Lookups take no lock: slots of an open-addressing table that is only ever added to.
 */
final class MappedWindows {
    private final BackingFile file;
    private final long end;
    private final PageRanges windowRanges;
    private final PageRanges pages;
    private final PagePreparation preparation;
    private final int capacity;
    private final AtomicReferenceArray<MappedWindow> table;
    private final int shift;
    private final AtomicBoolean canUnmap = new AtomicBoolean(true);
    private int count; // under the lock
    private volatile boolean full;

    /**
     * @param end          file position where the device ends; nothing past it is mapped, so mapping never grows
     *                     the file
     * @param budgetBytes  how many bytes of windows may be mapped at once (at least one window is)
     */
    MappedWindows(BackingFile file, long end, PageRanges windowRanges, PageRanges pages, PagePreparation preparation,
                  long budgetBytes) {
        this.file = file;
        this.end = end;
        this.windowRanges = windowRanges;
        this.pages = pages;
        this.preparation = preparation;
        long windowsInDevice = windowRanges.pageCount(end);
        this.capacity = (int) Math.max(1, Math.min(windowsInDevice, budgetBytes / windowRanges.pageSize()));
        int slots = Integer.highestOneBit(2 * capacity - 1) << 1; // at least twice the windows, a power of two
        this.table = new AtomicReferenceArray<>(slots);
        this.shift = 32 - Integer.numberOfTrailingZeros(slots);
    }

    private static FileChannel.MapMode mapMode(BackingFile file) {
        return file.writable ? FileChannel.MapMode.READ_WRITE : FileChannel.MapMode.READ_ONLY;
    }

    /** How many windows may be mapped at once. */
    int capacity() {
        return capacity;
    }

    /** Window {@code index} if it is mapped, else null. */
    MappedWindow peek(int index) {
        long start = windowRanges.pageStart(index);
        int mask = table.length() - 1;
        for (int slot = slot(index); ; slot = (slot + 1) & mask) {
            MappedWindow w = table.get(slot);
            if (w == null || w.start == start) {
                return w;
            }
        }
    }

    /** Window {@code index}, mapped now if the budget allows; null when it is not mapped and the budget is spent. */
    MappedWindow get(int index) throws WritePath.MappingFailedException {
        MappedWindow w = peek(index);
        if (w != null || full) {
            return w;
        }
        synchronized (this) {
            w = peek(index);
            if (w != null || full) {
                return w;
            }
            w = map(index);
            int mask = table.length() - 1;
            int slot = slot(index);
            while (table.get(slot) != null) {
                slot = (slot + 1) & mask;
            }
            table.set(slot, w);
            full = ++count == capacity;
            return w;
        }
    }

    /** Every window mapped so far. */
    void forEach(Consumer<MappedWindow> f) {
        for (int i = 0; i < table.length(); i++) {
            MappedWindow w = table.get(i);
            if (w != null) {
                f.accept(w);
            }
        }
    }

    private MappedWindow map(int index) throws WritePath.MappingFailedException {
        long start = windowRanges.pageStart(index);
        long len = Math.min(windowRanges.pageSize(), end - start);
        MappedByteBuffer bytes;
        try {
            bytes = file.channel.map(mapMode(file), start, len);
        } catch (IOException | UnsupportedOperationException e) {
            throw new WritePath.MappingFailedException(file.path + ": cannot map [" + start + ", +" + len + "): "
                    + e.getMessage(), e);
        }
        MappedWindow w = new MappedWindow(file, start, bytes, pages.pageCount(len), canUnmap);
        preparation.markAllocated(w);
        return w;
    }

    /** Fibonacci hashing: the top bits of the index times 2^32 / phi. */
    private int slot(int index) {
        return (index * 0x9E3779B9) >>> shift;
    }
}

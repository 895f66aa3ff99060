package dev.loopdev.luks;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The file that holds a LUKS header (the image, or a detached header file), read and written at positions. Every
 * update is a sequence of {@link #write}s, each followed by {@link #sync} where the order matters for a crash; a
 * writable file is locked for the whole update, so two loopdev commands never interleave their updates.
 */
final class HeaderFile implements Closeable {
    /** Where a test stops an update, as a SIGKILL would: before the named write. */
    interface CrashPoint {
        void before(String write) throws IOException;
    }

    static volatile CrashPoint crashPoint = w -> { };

    final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    private HeaderFile(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    static HeaderFile open(Path path, boolean writable) throws IOException {
        FileChannel ch = writable ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.READ);
        FileLock lock = null;
        if (writable) {
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
            if (lock == null) {
                ch.close();
                throw new LuksException(path + ": another loopdev command is updating this LUKS header");
            }
        }
        return new HeaderFile(path, ch, lock);
    }

    long size() throws IOException {
        return channel.size();
    }

    /** {@code length} bytes at {@code pos}; what lies past the end of the file reads as zeros. */
    byte[] read(long pos, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining()) {
            int n = channel.read(b, pos + b.position());
            if (n < 0) {
                break;
            }
        }
        return b.array();
    }

    void write(byte[] data, long pos, String what) throws IOException {
        crashPoint.before(what);
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            channel.write(b, pos + b.position());
        }
    }

    /** fdatasync: what was written before is on the disk before anything written after. */
    void sync() throws IOException {
        channel.force(false);
    }

    /** Extends the file to at least {@code size} bytes (sparse). */
    void ensureSize(long size) throws IOException {
        if (channel.size() < size) {
            channel.write(ByteBuffer.allocate(1), size - 1);
        }
    }

    @Override
    public void close() throws IOException {
        try {
            if (lock != null) {
                lock.release();
            }
        } finally {
            channel.close();
        }
    }
}

package dev.loopdev;

import com.sun.jna.LastErrorException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * The backing file: a {@link FileChannel} for data, and a raw descriptor of the same file for the calls the JDK
 * lacks (fallocate, SEEK_HOLE). Both stay valid when the file is renamed or unlinked underneath us.
 *
 * <p>Each optional capability is probed by use and switched off for good, logged once, on the first "not
 * supported", as nbdkit's file plugin does with its fallocate modes.
 */
final class BackingFile implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(BackingFile.class.getName());

    final Path path;
    final FileChannel channel;
    final boolean writable;
    /**
     * Whether writing pages back write-protects them in every mapping (every file system with a backing store);
     * tmpfs and ramfs never write back, so their mapped pages stay writable.
     */
    final boolean writebackWriteProtects;
    private final int fd;
    private final AtomicBoolean canReserve = new AtomicBoolean(true);
    private final AtomicBoolean canPunch = new AtomicBoolean(true);
    private final AtomicBoolean canZeroRange = new AtomicBoolean(true);
    private final SizeCheck sizeCheck = new SizeCheck(this::size);

    private BackingFile(Path path, FileChannel channel, int fd, boolean writable) {
        this.path = path;
        this.channel = channel;
        this.fd = fd;
        this.writable = writable;
        this.writebackWriteProtects = !inMemory(path);
    }

    private static boolean inMemory(Path path) {
        try {
            String type = Files.getFileStore(path).type();
            return type.equals("tmpfs") || type.equals("ramfs");
        } catch (IOException e) {
            return false;
        }
    }

    /** Opens for reading and writing, or read-only when asked or when the file cannot be written (as loop does). */
    static BackingFile open(Path path, boolean readOnly) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString());
        }
        if (Files.isDirectory(path)) {
            throw new BlockDeviceException(Errno.EINVAL, path + ": is a directory");
        }
        if (!readOnly) {
            try {
                return openWith(path, true);
            } catch (AccessDeniedException e) {
                LOG.info(path + " is not writable: attached read-only");
            } catch (FileSystemException e) {
                if (!String.valueOf(e.getReason()).contains("Read-only file system")) {
                    throw e;
                }
                LOG.info(path + " is on a read-only file system: attached read-only");
            }
        }
        return openWith(path, false);
    }

    private static BackingFile openWith(Path path, boolean writable) throws IOException {
        FileChannel ch = writable
                ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.READ);
        int fd;
        try {
            fd = Posix.open(path.toString(), (writable ? Posix.O_RDWR : Posix.O_RDONLY) | Posix.O_CLOEXEC);
        } catch (LastErrorException e) {
            ch.close();
            throw new FileSystemException(path.toString(), null, Errno.message(e.getErrorCode()));
        }
        return new BackingFile(path, ch, fd, writable);
    }

    long size() throws IOException {
        return channel.size();
    }

    /**
     * Makes sure the blocks of {@code [pos, pos + length)} exist, so that a store through a mapping cannot fault on
     * a hole of a full file system: fallocate keeping the size, or, where the file system has no fallocate, by
     * writing the range's own bytes back to it (the caller holds the range, so nothing changes underneath).
     *
     * @throws BlockDeviceException ENOSPC when there is no room, before any byte was copied
     */
    void reserve(long pos, long length) throws IOException {
        if (canReserve.get()) {
            try {
                Posix.fallocate(fd, Posix.FALLOC_FL_KEEP_SIZE, pos, length);
                return;
            } catch (LastErrorException e) {
                if (!Posix.isUnsupported(e.getErrorCode())) {
                    throw error("reserve", e.getErrorCode(), pos, length);
                }
                if (canReserve.getAndSet(false)) {
                    LOG.info(path + ": no fallocate on this file system; reserving blocks by writing them back");
                }
            }
        }
        rewrite(pos, length);
    }

    private void rewrite(long pos, long length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.min(length, 1 << 20));
        for (long done = 0; done < length; ) {
            buf.clear().limit((int) Math.min(buf.capacity(), length - done));
            readFully(buf, pos + done);
            buf.flip();
            writeFully(buf, pos + done);
            done += buf.limit();
        }
    }

    /** Releases the range's blocks; it reads back as zeros. False when the file system cannot. */
    boolean punchHole(long pos, long length) throws IOException {
        return tryFallocate(canPunch, "punch holes", Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE,
                pos, length);
    }

    /** Zeroes the range keeping it allocated. False when the file system cannot. */
    boolean zeroRange(long pos, long length) throws IOException {
        return tryFallocate(canZeroRange, "zero ranges", Posix.FALLOC_FL_ZERO_RANGE | Posix.FALLOC_FL_KEEP_SIZE,
                pos, length);
    }

    private boolean tryFallocate(AtomicBoolean capability, String what, int mode, long pos, long length)
            throws IOException {
        if (!capability.get()) {
            return false;
        }
        try {
            Posix.fallocate(fd, mode, pos, length);
            return true;
        } catch (LastErrorException e) {
            if (Posix.isUnsupported(e.getErrorCode())) {
                if (capability.getAndSet(false)) {
                    LOG.info(path + ": this file system cannot " + what + "; falling back");
                }
                return false;
            }
            throw error(what, e.getErrorCode(), pos, length);
        }
    }

    /**
     * Where the next data at or after {@code pos} starts ({@code SEEK_DATA}), or -1 when only a hole follows up to
     * the end of the file. Where the file system cannot tell, everything is data, as lseek itself pretends.
     */
    long nextData(long pos) throws IOException {
        return seek(pos, Posix.SEEK_DATA);
    }

    /** Where the next hole at or after {@code pos} starts ({@code SEEK_HOLE}); the end of the file counts as one. */
    long nextHole(long pos) throws IOException {
        return seek(pos, Posix.SEEK_HOLE);
    }

    private long seek(long pos, int whence) throws IOException {
        try {
            return Posix.lseek(fd, pos, whence);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == Errno.ENXIO.code) {
                return -1;
            }
            if (Posix.isUnsupported(e.getErrorCode()) || e.getErrorCode() == Errno.EINVAL.code) {
                return whence == Posix.SEEK_DATA ? pos : Long.MAX_VALUE;
            }
            throw error("seek", e.getErrorCode(), pos, 0);
        }
    }

    /**
     * Fails with EIO when the file no longer reaches {@code pos + length}: it shrank underneath the device. Both
     * write paths call it for every request, the mapped one because a page past the end faults (and on JDK 17 that
     * fault may surface later, somewhere else), the positional one because a pwrite there would grow the file
     * back, sparse. The size comes from an fstat per request, or one per arrival of requests ({@link SizeCheck}).
     */
    void checkSpans(long pos, long length) throws IOException {
        long size = sizeCheck.size();
        if (size < pos + length) {
            throw new BlockDeviceException(Errno.EIO, path + " [" + pos + ", +" + length
                    + "): the backing file shrank to " + size + " bytes underneath the device");
        }
    }

    /** Requests arrived: see {@link SizeCheck#arrived}. */
    void arrived() {
        sizeCheck.arrived();
    }

    /** Fills {@code dst}; a file that ends early (truncated underneath us) is EIO. */
    void readFully(ByteBuffer dst, long pos) throws IOException {
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                throw new BlockDeviceException(Errno.EIO, path + " ends at " + pos
                        + ": the backing file shrank underneath the device");
            }
            pos += n;
        }
    }

    void writeFully(ByteBuffer src, long pos) throws IOException {
        while (src.hasRemaining()) {
            pos += channel.write(src, pos);
        }
    }

    /** fsync ({@code metadata}) or fdatasync. */
    void force(boolean metadata) throws IOException {
        channel.force(metadata);
    }

    private BlockDeviceException error(String what, int errno, long pos, long length) {
        return new BlockDeviceException(BlockDeviceException.ofOsError(errno), path + ": cannot " + what + " ["
                + pos + ", +" + length + "): " + Errno.message(errno));
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            Posix.close(fd);
        }
    }
}

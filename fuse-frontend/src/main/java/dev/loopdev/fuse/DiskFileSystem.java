package dev.loopdev.fuse;

import dev.loopdev.BlockDevice;
import dev.loopdev.Errno;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import java.util.logging.Logger;
import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;

/**
 * A FUSE file system with one regular file in its root, {@code /NAME}, whose bytes are the block device's: a thin
 * adapter onto {@link BlockDevice}, as the NBD server is. The file's size is the device's and never changes.
 *
 * <p>Requests are validated here, once: the path, read-only, and the range (clipped at the end of the device, as
 * a block device clips: a read there is short, a write there is short and the next one gets ENOSPC). Every
 * operation returns 0, a byte count, or {@code -errno} from {@link FuseErrno}; no exception escapes into libfuse,
 * because a callback that throws would be answered with success.
 */
final class DiskFileSystem extends FuseStubFS {
    private static final Logger LOG = Logger.getLogger(DiskFileSystem.class.getName());
    private static final int O_ACCMODE = 3;
    private static final int O_RDONLY = 0;
    private static final int O_DSYNC = 0x1000; // O_SYNC includes this bit
    private static final int FALLOC_FL_KEEP_SIZE = 0x01;
    private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    private static final int FALLOC_FL_ZERO_RANGE = 0x10;

    private final BlockDevice device;
    private final String filePath;
    private final String fileName;
    private final boolean directIo;
    private final long sizeBytes;
    private final boolean readOnly;
    private final long uid;
    private final long gid;
    private final CountDownLatch started = new CountDownLatch(1);
    private volatile long modifiedMillis = System.currentTimeMillis();

    DiskFileSystem(BlockDevice device, FuseOptions options) {
        this.device = device;
        this.fileName = options.fileName();
        this.filePath = "/" + options.fileName();
        this.directIo = options.directIo();
        this.sizeBytes = device.size();
        this.readOnly = device.isReadOnly();
        com.sun.security.auth.module.UnixSystem me = new com.sun.security.auth.module.UnixSystem();
        this.uid = me.getUid();
        this.gid = me.getGid();
    }

    /** Runs libfuse's main loop on the calling thread until the file system is unmounted; its exit status. */
    int run(String[] args) {
        return libFuse.fuse_main_real(args.length, args, fuseOperations, Struct.size(fuseOperations), null);
    }

    /** Counted down when the kernel has connected (FUSE_INIT): the mount is in place and the file usable. */
    CountDownLatch started() {
        return started;
    }

    @Override
    public Pointer init(Pointer conn) {
        started.countDown();
        return null;
    }

    @Override
    public int getattr(String path, FileStat stat) {
        long seconds = modifiedMillis / 1000;
        if (path.equals("/")) {
            stat.st_mode.set(FileStat.S_IFDIR | 0755);
            stat.st_nlink.set(2);
        } else if (path.equals(filePath)) {
            stat.st_mode.set(FileStat.S_IFREG | (readOnly ? 0444 : 0644));
            stat.st_nlink.set(1);
            stat.st_size.set(sizeBytes);
            stat.st_blocks.set((sizeBytes + 511) / 512);
            stat.st_blksize.set(device.blockSize());
        } else {
            return -Errno.ENOENT.code;
        }
        stat.st_uid.set(uid);
        stat.st_gid.set(gid);
        stat.st_mtim.tv_sec.set(seconds);
        stat.st_ctim.tv_sec.set(seconds);
        stat.st_atim.tv_sec.set(seconds);
        return 0;
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filler, long offset, FuseFileInfo fi) {
        if (path.equals(filePath)) {
            return -Errno.ENOTDIR.code;
        }
        if (!path.equals("/")) {
            return -Errno.ENOENT.code;
        }
        filler.apply(buf, ".", null, 0);
        filler.apply(buf, "..", null, 0);
        filler.apply(buf, fileName, null, 0);
        return 0;
    }

    @Override
    public int open(String path, FuseFileInfo fi) {
        if (!path.equals(filePath)) {
            return path.equals("/") ? -Errno.EISDIR.code : -Errno.ENOENT.code;
        }
        if (readOnly && (NativeMemory.openFlags(fi) & O_ACCMODE) != O_RDONLY) {
            return -Errno.EROFS.code;
        }
        if (directIo) {
            NativeMemory.setDirectIo(fi);
        }
        return 0;
    }

    @Override
    public int read(String path, Pointer buf, long size, long offset, FuseFileInfo fi) {
        if (!path.equals(filePath)) {
            return -Errno.ENOENT.code;
        }
        if (offset < 0) {
            return -Errno.EINVAL.code;
        }
        if (offset >= sizeBytes || size <= 0) {
            return 0;
        }
        int n = (int) Math.min(size, sizeBytes - offset);
        try {
            device.read(NativeMemory.wrap(buf, n), offset);
            return n;
        } catch (Throwable t) {
            return failed("read", offset, n, t);
        }
    }

    @Override
    public int write(String path, Pointer buf, long size, long offset, FuseFileInfo fi) {
        if (!path.equals(filePath)) {
            return -Errno.ENOENT.code;
        }
        if (readOnly) {
            return -Errno.EROFS.code;
        }
        if (offset < 0) {
            return -Errno.EINVAL.code;
        }
        if (size <= 0) {
            return 0;
        }
        if (offset >= sizeBytes) {
            return -Errno.ENOSPC.code;
        }
        int n = (int) Math.min(size, sizeBytes - offset);
        boolean fua = (NativeMemory.openFlags(fi) & O_DSYNC) != 0;
        try {
            device.write(NativeMemory.wrap(buf, n), offset, fua);
            modifiedMillis = System.currentTimeMillis();
            return n;
        } catch (Throwable t) {
            return failed("write", offset, n, t);
        }
    }

    /** close(2) of a descriptor: what was written through it becomes durable, as a block device's last close. */
    @Override
    public int flush(String path, FuseFileInfo fi) {
        return flushDevice(path);
    }

    @Override
    public int fsync(String path, int isdatasync, FuseFileInfo fi) {
        return flushDevice(path);
    }

    private int flushDevice(String path) {
        if (!path.equals(filePath)) {
            return -Errno.ENOENT.code;
        }
        try {
            device.flush();
            return 0;
        } catch (Throwable t) {
            return failed("flush", 0, 0, t);
        }
    }

    @Override
    public int release(String path, FuseFileInfo fi) {
        return 0;
    }

    /** The size is fixed at attach time: truncating to it is a no-op, to anything else refused. */
    @Override
    public int truncate(String path, long size) {
        if (!path.equals(filePath)) {
            return path.equals("/") ? -Errno.EISDIR.code : -Errno.ENOENT.code;
        }
        if (readOnly) {
            return -Errno.EROFS.code;
        }
        if (size == sizeBytes) {
            return 0;
        }
        LOG.info(() -> "truncate to " + size + " refused: the device has a fixed size of " + sizeBytes + " bytes");
        return -Errno.EPERM.code;
    }

    /**
     * Punching a hole makes the range read as zeros, so it is a write of zeros that may release space (a trim
     * where the device can trim; encoded zeros under a transform, where a hole would not decode to zeros). Zeroing
     * a range is the same without releasing. Plain allocation has nothing to do inside the fixed size.
     */
    @Override
    public int fallocate(String path, int mode, long offset, long length, FuseFileInfo fi) {
        if (!path.equals(filePath)) {
            return -Errno.ENOENT.code;
        }
        if (readOnly) {
            return -Errno.EROFS.code;
        }
        if (offset < 0 || length <= 0 || offset > Long.MAX_VALUE - length) {
            return -Errno.EINVAL.code;
        }
        boolean keepSize = (mode & FALLOC_FL_KEEP_SIZE) != 0;
        int op = mode & ~FALLOC_FL_KEEP_SIZE;
        if (op == FALLOC_FL_PUNCH_HOLE && !keepSize) {
            return -Errno.ENOTSUP.code; // as fallocate(2): a hole is punched with KEEP_SIZE or not at all
        }
        if (op != 0 && op != FALLOC_FL_PUNCH_HOLE && op != FALLOC_FL_ZERO_RANGE) {
            return -Errno.ENOTSUP.code;
        }
        if (!keepSize && offset + length > sizeBytes) {
            return -Errno.EFBIG.code;
        }
        long n = Math.min(length, sizeBytes - Math.min(offset, sizeBytes));
        if (op == 0 || n == 0) {
            return 0;
        }
        try {
            device.writeZeroes(offset, n, false, op == FALLOC_FL_PUNCH_HOLE);
            modifiedMillis = System.currentTimeMillis();
            return 0;
        } catch (Throwable t) {
            return failed("fallocate", offset, n, t);
        }
    }

    @Override
    public int statfs(String path, Statvfs stbuf) {
        int bs = device.blockSize();
        stbuf.f_bsize.set(bs);
        stbuf.f_frsize.set(bs);
        stbuf.f_blocks.set(sizeBytes / bs);
        stbuf.f_bfree.set(0);
        stbuf.f_bavail.set(0);
        stbuf.f_files.set(1);
        stbuf.f_ffree.set(0);
        stbuf.f_namemax.set(255);
        return 0;
    }

    @Override
    protected String getFSName() {
        return "loopdev";
    }

    private int failed(String op, long offset, long length, Throwable t) {
        int errno = FuseErrno.of(t);
        // A device error is expected news (ENOSPC, EIO from the backing file): one line. Anything else is a bug.
        boolean expected = t instanceof java.io.IOException;
        LOG.log(expected ? Level.WARNING : Level.SEVERE,
                op + " [" + offset + ", +" + length + "): " + t + " -> errno " + -errno, expected ? null : t);
        return errno;
    }
}

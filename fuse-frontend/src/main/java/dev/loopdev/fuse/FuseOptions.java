package dev.loopdev.fuse;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How the device file is mounted.
 *
 * @param fileName       the one file in the mount, {@code disk} by default
 * @param directIo       open the file with FOPEN_DIRECT_IO: every read and write reaches the device at the size the
 *                       caller asked for (up to {@code maxIoBytes}), no page cache in between, no shared mmap
 * @param singleThreaded run libfuse's loop on one thread ({@code -s}); by default it runs on several, which
 *                       measured faster for one dd stream and much faster under the kernel loop driver, whose
 *                       requests come several at a time (bench/README.md)
 * @param maxIoBytes     max_read / max_write / max_readahead; libfuse 2.9 caps writes at 128 KiB
 * @param debug          libfuse's {@code -d}: log every request
 */
public record FuseOptions(String fileName, boolean directIo, boolean singleThreaded, int maxIoBytes, boolean debug) {
    public static final String DEFAULT_FILE_NAME = "disk";
    public static final int DEFAULT_MAX_IO_BYTES = 128 * 1024;

    public FuseOptions {
        if (fileName.isEmpty() || fileName.contains("/") || fileName.equals(".") || fileName.equals("..")
                || fileName.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("the file name must be one path component, not '" + fileName + "'");
        }
        if (maxIoBytes < 4096 || maxIoBytes % 4096 != 0) {
            throw new IllegalArgumentException("the largest request must be a multiple of 4096 bytes");
        }
    }

    public static FuseOptions defaults() {
        return new FuseOptions(DEFAULT_FILE_NAME, true, false, DEFAULT_MAX_IO_BYTES, false);
    }

    public FuseOptions withFileName(String v) {
        return new FuseOptions(v, directIo, singleThreaded, maxIoBytes, debug);
    }

    public FuseOptions withDirectIo(boolean v) {
        return new FuseOptions(fileName, v, singleThreaded, maxIoBytes, debug);
    }

    public FuseOptions withSingleThreaded(boolean v) {
        return new FuseOptions(fileName, directIo, v, maxIoBytes, debug);
    }

    public FuseOptions withDebug(boolean v) {
        return new FuseOptions(fileName, directIo, singleThreaded, maxIoBytes, v);
    }

    /**
     * The command line for libfuse's {@code fuse_main}: foreground (we own the process); big_writes, without
     * which the kernel splits every write into 4 KiB requests; auto_unmount, which has fusermount unmount the file
     * system when this process dies however it dies, so that a SIGKILL leaves no dead mount behind.
     */
    List<String> libfuseArgs(Path mountPoint) {
        List<String> args = new ArrayList<>(List.of("loopdev", "-f"));
        if (singleThreaded) {
            args.add("-s");
        }
        if (debug) {
            args.add("-d");
        }
        args.add("-o");
        args.add("fsname=loopdev,subtype=loopdev,auto_unmount,big_writes,max_read=" + maxIoBytes + ",max_write=" + maxIoBytes
                + ",max_readahead=" + maxIoBytes);
        args.add(mountPoint.toAbsolutePath().toString());
        return args;
    }
}

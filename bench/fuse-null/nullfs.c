/*
 * The FUSE transport alone: one file, /disk, of 1 GiB whose reads and writes return at once, opened with
 * direct_io as loopdev opens its device file. Built twice by bench/fuse-null.sh: against libfuse 2 (what
 * jnr-fuse binds; 128 KiB requests at most) and against libfuse 3 (1 MiB requests, as qemu-storage-daemon gets).
 * What dd reaches through it is the ceiling any server on that libfuse can reach on this machine.
 */
#if FUSE_USE_VERSION >= 30
#include <fuse3/fuse.h>
#else
#include <fuse/fuse.h>
#endif
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define DISK_BYTES (1L << 30)

#if FUSE_USE_VERSION >= 30
static int null_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
#else
static int null_getattr(const char *path, struct stat *st)
#endif
{
    memset(st, 0, sizeof *st);
    if (strcmp(path, "/") == 0) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return 0;
    }
    if (strcmp(path, "/disk") == 0) {
        st->st_mode = S_IFREG | 0644;
        st->st_nlink = 1;
        st->st_size = DISK_BYTES;
        return 0;
    }
    return -ENOENT;
}

static int null_open(const char *path, struct fuse_file_info *fi) {
    fi->direct_io = 1;
    return strcmp(path, "/disk") == 0 ? 0 : -ENOENT;
}

static int null_read(const char *path, char *buf, size_t n, off_t off, struct fuse_file_info *fi) {
    return off >= DISK_BYTES ? 0 : (int) (n < (size_t) (DISK_BYTES - off) ? n : (size_t) (DISK_BYTES - off));
}

static int null_write(const char *path, const char *buf, size_t n, off_t off, struct fuse_file_info *fi) {
    return (int) n;
}

static int null_flush(const char *path, struct fuse_file_info *fi) {
    return 0;
}

static int null_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
    return 0;
}

#if FUSE_USE_VERSION >= 30
static void *null_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
    conn->max_write = 1 << 20;
    return NULL;
}
#endif

static const struct fuse_operations ops = {
#if FUSE_USE_VERSION >= 30
    .init = null_init,
#endif
    .getattr = null_getattr,
    .open = null_open,
    .read = null_read,
    .write = null_write,
    .flush = null_flush,
    .fsync = null_fsync,
};

int main(int argc, char **argv) {
    return fuse_main(argc, argv, &ops, NULL);
}

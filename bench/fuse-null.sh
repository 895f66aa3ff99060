#!/usr/bin/env bash
# The ceiling of the FUSE transport on this machine: dd bs=1M through a C file system that does nothing
# (bench/fuse-null/nullfs.c), built against libfuse 2 (128 KiB requests, what jnr-fuse and so loopdev use) and
# against libfuse 3 (1 MiB requests, what qemu-storage-daemon uses). Compare with bench/fuse-bench.sh's figures.
#
#   bench/fuse-null.sh [ROUNDS (default 5)]
#
# Needs root, gcc, pkg-config, libfuse-dev and libfuse3-dev (apt-get install libfuse-dev libfuse3-dev), fuse3.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
rounds=${1:-5}
for pc in fuse fuse3; do
  pkg-config --exists "$pc" || { echo "fuse-null: $pc headers missing (apt-get install libfuse-dev libfuse3-dev)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/loopdev-fuse-null.XXXXXX)
src=$(mktemp /dev/shm/loopdev-fuse-null-src.XXXXXX)
cleanup() {
  set +e
  for m in "$work"/mnt2 "$work"/mnt3; do mountpoint -q "$m" && { fusermount -u "$m" 2>/dev/null || fusermount3 -u "$m"; }; done
  rm -rf "$work" "$src"
}
trap cleanup EXIT INT TERM
gcc -O2 -Wall -DFUSE_USE_VERSION=26 -o "$work/null2" "$here/fuse-null/nullfs.c" $(pkg-config --cflags --libs fuse)
gcc -O2 -Wall -DFUSE_USE_VERSION=31 -o "$work/null3" "$here/fuse-null/nullfs.c" $(pkg-config --cflags --libs fuse3)
dd if=/dev/urandom of="$src" bs=1M count=1024 status=none
mkdir "$work/mnt2" "$work/mnt3"
"$work/null2" "$work/mnt2" -o big_writes,max_write=131072,max_read=131072
"$work/null3" "$work/mnt3"
mbps() { awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") { secs = $(i-1) } ; bytes = $1 }
              END { printf "%.0f", bytes / secs / 1e6 }'; }
for op in write read; do
  for v in 2 3; do
    each=""
    for _ in $(seq "$rounds"); do
      if [ "$op" = write ]; then
        each="$each $(dd if="$src" of="$work/mnt$v/disk" bs=1M count=1024 conv=notrunc,fsync 2>&1 | mbps)"
      else
        each="$each $(dd if="$work/mnt$v/disk" of=/dev/null bs=1M count=1024 2>&1 | mbps)"
      fi
    done
    med=$(echo $each | tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    printf 'libfuse %s, %-5s: %5s MB/s median of%s\n' "$v" "$op" "$med" "$each"
  done
done

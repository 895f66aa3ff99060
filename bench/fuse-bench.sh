#!/usr/bin/env bash
# dd bs=1M through loopdev's FUSE device file and through qemu-storage-daemon's FUSE export of the same image, in
# the same run, and the ratio loopdev / qemu-storage-daemon for each direction.
#
#   bench/fuse-bench.sh [SIZE_MIB (default 1024)] [ROUNDS (default 7)] [extra loopdev fuse options...]
#
# Then (LOOP=0 skips it) the use the FUSE file is for: each file attached with losetup, and fio (libaio,
# direct=1, iodepth 16) on the loop devices: 4 KiB random reads and writes, 1 MiB sequential reads and writes,
# RUNTIME seconds each (default 5), the peers alternating ROUNDS/2+1 times, medians.
#
# Needs: java 17+, qemu-storage-daemon (apt: qemu-system-common), libfuse2, fuse3 (fusermount), fio, root.
# Writes use conv=notrunc,fsync (so the flush is in the figure); reads go to /dev/null. Both servers see the same
# image; the page cache holds it for both (the figure is the FUSE path, not the disk). Rounds alternate between
# the peers; the table shows the median of ROUNDS (default 7) per cell.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
size_mib=${1:-1024}
rounds=${2:-7}
shift $(( $# > 2 ? 2 : $# )) || true
jar="$here/cli/target/loopdev.jar"
[ -f "$jar" ] || (cd "$here" && mvn -q -B -o -pl cli -am package -DskipTests)
command -v qemu-storage-daemon >/dev/null || { echo "fuse-bench: qemu-storage-daemon missing (apt-get install qemu-system-common)" >&2; exit 2; }

work=$(mktemp -d /tmp/loopdev-fuse-bench.XXXXXX)
mnt="$work/mnt"; qfile="$work/qemu-export"; img="$work/image"
# The source of the writes lives in RAM so that it costs both sides the same.
src=$(mktemp /dev/shm/loopdev-fuse-bench-src.XXXXXX)
lpid=""; qpid=""; loops=()
cleanup() {
  set +e
  for l in "${loops[@]}"; do losetup -d "$l"; done
  [ -n "$lpid" ] && kill -TERM "$lpid" 2>/dev/null && wait "$lpid" 2>/dev/null
  [ -n "$qpid" ] && kill -TERM "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
  mountpoint -q "$mnt" 2>/dev/null && fusermount -u -z "$mnt"
  grep -q " $qfile " /proc/self/mountinfo && fusermount -u -z "$qfile"
  rm -rf "$work" "$src"
}
trap cleanup EXIT INT TERM

mkdir "$mnt"; touch "$qfile"
truncate -s "${size_mib}M" "$img"
dd if=/dev/urandom of="$src" bs=1M count="$size_mib" status=none
dd if="$src" of="$img" bs=1M conv=notrunc status=none

wait_for() { # PATH SECONDS: until PATH is a mount point
  for _ in $(seq $(( $2 * 10 ))); do grep -q " $1 " /proc/self/mountinfo && return 0; sleep 0.1; done
  echo "fuse-bench: $1 did not appear" >&2; exit 1
}

java ${LOOPDEV_JAVA_OPTS:-} -jar "$jar" fuse "$img" "$mnt" "$@" >"$work/loopdev.log" 2>&1 & lpid=$!
wait_for "$mnt" 30
qemu-storage-daemon --blockdev driver=file,node-name=f,filename="$img" --blockdev driver=raw,node-name=r,file=f \
  --export type=fuse,id=e,node-name=r,mountpoint="$qfile",writable=on >"$work/qsd.log" 2>&1 & qpid=$!
wait_for "$qfile" 30

mbps() { # dd's stderr -> MB/s (decimal, as dd prints)
  awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") { secs = $(i-1) } ; bytes = $1 }
       END { printf "%.0f", bytes / secs / 1e6 }'
}
once() { # read|write FILE -> MB/s
  if [ "$1" = write ]; then
    dd if="$src" of="$2" bs=1M count="$size_mib" conv=notrunc,fsync 2>&1 | mbps
  else
    dd if="$2" of=/dev/null bs=1M count="$size_mib" 2>&1 | mbps
  fi
}
median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The two peers alternate round by round, so that a disturbance on the shared machine hits both alike; the
# table gives the median of the rounds (and every round, for the spread).
printf '%-6s %12s %12s %8s   %s\n' op loopdev qsd ratio "rounds (loopdev/qsd MB/s)"
for op in write read; do
  ls=""; qs=""; each=""
  for _ in $(seq "$rounds"); do
    l=$(once "$op" "$mnt/disk"); q=$(once "$op" "$qfile")
    ls="$ls $l"; qs="$qs $q"; each="$each $l/$q"
  done
  l=$(echo $ls | median); q=$(echo $qs | median)
  printf '%-6s %9s MB/s %7s MB/s %7.2fx  %s\n' "$op" "$l" "$q" "$(echo "$l / $q" | bc -l)" "$each"
done
cmp "$mnt/disk" "$qfile" && echo "contents: identical through both"

[ "${LOOP:-1}" = 0 ] && exit 0
command -v fio >/dev/null || { echo "fuse-bench: fio missing for the loop device part" >&2; exit 2; }
lloop=$(losetup -f --show "$mnt/disk"); loops+=("$lloop")
qloop=$(losetup -f --show "$qfile"); loops+=("$qloop")
fio_once() { # DEVICE RW BS -> IOPS (4k) or MB/s (1M)
  fio --name=l --filename="$1" --rw="$2" --bs="$3" --iodepth=16 --ioengine=libaio --direct=1 --time_based \
      --runtime="${RUNTIME:-5}" --output-format=json --output="$work/fio.json" >/dev/null 2>&1
  /usr/bin/python3 - "$work/fio.json" "$2" "$3" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
side = "read" if "read" in sys.argv[2] else "write"
print(round(job[side]["iops"]) if sys.argv[3] == "4k" else round(job[side]["bw_bytes"] / 1e6))
PY
}
echo
echo "kernel loop driver on each FUSE file (losetup; fio libaio direct=1 iodepth=16; IOPS for 4k, MB/s for 1M)"
printf '%-14s %12s %12s %8s   %s\n' workload loopdev qsd ratio "rounds (loopdev/qsd)"
for w in randread:4k randwrite:4k read:1M write:1M; do
  rw=${w%%:*}; bs=${w##*:}; ls=""; qs=""; each=""
  for _ in $(seq $(( rounds / 2 + 1 ))); do
    l=$(fio_once "$lloop" "$rw" "$bs"); q=$(fio_once "$qloop" "$rw" "$bs")
    ls="$ls $l"; qs="$qs $q"; each="$each $l/$q"
  done
  l=$(echo $ls | median); q=$(echo $qs | median)
  printf '%-14s %12s %12s %7.2fx  %s\n' "$rw-$bs" "$l" "$q" "$(echo "$l / $q" | bc -l)" "$each"
done

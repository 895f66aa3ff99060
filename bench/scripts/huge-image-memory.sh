#!/usr/bin/env bash
# Memory of `loopdev serve` over a huge sparse image: fio's 4 KiB random reads and writes across the whole of a
# 100 TiB sparse file in /dev/shm for RUNTIME seconds, the server's VmRSS + VmPTE sampled every few seconds. The
# target: under 512 MiB for a 10-minute run. Writes are held to WRITE_IOPS a second, since every one of them
# stores a page in tmpfs for good (600 s at 500 a second: 1.2 GB); reads run as fast as they go.
#
#   bench/scripts/huge-image-memory.sh                         10 minutes, the mapped write path
#   RUNTIME=60 WRITE_PATH=positional bench/scripts/huge-image-memory.sh
#
# Environment: JAVA (default: java), JAR (default: cli/target/loopdev.jar, built when missing), SIZE (default
# 100T), RUNTIME (seconds, default 600), WRITE_IOPS (default 500), WRITE_PATH (default mapped), EVERY (seconds
# between samples, default 5), ABORT_KIB (stop early when VmRSS + VmPTE passes this, default 4 GiB: a server
# without a bound would take the machine down).
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/../.." && pwd)
JAVA=${JAVA:-java}
JAR=${JAR:-$root/cli/target/loopdev.jar}
SIZE=${SIZE:-100T}
RUNTIME=${RUNTIME:-600}
WRITE_IOPS=${WRITE_IOPS:-500}
WRITE_PATH=${WRITE_PATH:-mapped}
EVERY=${EVERY:-5}
ABORT_KIB=${ABORT_KIB:-$((4 << 20))}

for tool in fio "$JAVA"; do
  command -v "$tool" >/dev/null || { echo "huge-image-memory: $tool not found" >&2; exit 1; }
done
if [ ! -f "$JAR" ]; then
  echo "huge-image-memory: building $JAR" >&2
  (cd "$root" && mvn -q -B -pl cli -am package -DskipTests)
fi

work=$(mktemp -d /dev/shm/loopdev-huge.XXXXXX)
server=
fio_pid=
cleanup() {
  [ -n "$fio_pid" ] && kill "$fio_pid" 2>/dev/null || true
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

truncate -s "$SIZE" "$work/huge.img"
"$JAVA" -jar "$JAR" serve "$work/huge.img" --unix "$work/nbd.sock" --write-path "$WRITE_PATH" \
  > "$work/uri" 2> "$work/serve.log" &
server=$!
for _ in $(seq 1 300); do [ -s "$work/uri" ] && break; sleep 0.1; done
uri=$(head -1 "$work/uri")
[ -n "$uri" ] || { echo "huge-image-memory: the server did not start" >&2; cat "$work/serve.log" >&2; exit 1; }

kib() { awk '/^VmRSS:|^VmPTE:/ { s += $2 } END { print s }' "/proc/$server/status"; }
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$server/stat"; }

echo "loopdev serve $SIZE sparse image, $WRITE_PATH write path, fio randrw 4k iodepth 16 for ${RUNTIME}s," \
  "writes at most $WRITE_IOPS/s ($("$JAVA" -version 2>&1 | head -1))"
fio --name=huge --ioengine=nbd --uri="$uri" --rw=randrw --rwmixread=50 --bs=4k --iodepth=16 --size="$SIZE" \
  --time_based --runtime="$RUNTIME" --rate_iops=",$WRITE_IOPS" --norandommap --randrepeat=0 \
  --output-format=json > "$work/fio.json" &
fio_pid=$!
start=$(date +%s)
worst=0
aborted=
while kill -0 "$fio_pid" 2>/dev/null; do
  now=$(kib)
  [ "$now" -gt "$worst" ] && worst=$now
  printf '%5ds  VmRSS+VmPTE %6d MiB  (worst %6d MiB)  server CPU %ss\n' $(( $(date +%s) - start )) \
    $((now / 1024)) $((worst / 1024)) "$(cpu_seconds)"
  if [ "$now" -gt "$ABORT_KIB" ]; then
    aborted=yes
    kill "$fio_pid"
    break
  fi
  sleep "$EVERY"
done
wait "$fio_pid" 2>/dev/null || true
fio_pid=
/usr/bin/python3 - "$work/fio.json" <<'EOF' || true
import json, sys
text = open(sys.argv[1]).read()
try:
    job = json.loads(text[text.index("{"):])["jobs"][0]  # fio may print a note before the JSON
except Exception as e:
    print("no fio figures:", e)
    sys.exit(0)
for d in ("read", "write"):
    print("%-5s %10d I/Os  %8.0f IOPS" % (d, job[d]["total_ios"], job[d]["iops"]))
EOF
echo "worst VmRSS+VmPTE: $((worst / 1024)) MiB; server CPU $(cpu_seconds) s; the image holds" \
  "$(du -k "$work/huge.img" | cut -f1) KiB of tmpfs"
[ -z "$aborted" ] || { echo "ABORTED: past $((ABORT_KIB / 1024)) MiB"; exit 2; }

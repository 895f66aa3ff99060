#!/usr/bin/env bash
# Drives the same NBD workloads against loopdev (mapped and positional write paths) and against nbdkit's file
# plugin, on the same image in /dev/shm, in the same run, and prints each figure and the ratio loopdev/nbdkit.
#
#   bench/scripts/nbd-bench.sh                     defaults below
#   JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java RUNTIME=10 REPS=3 bench/scripts/nbd-bench.sh
#
# Environment: JAVA (default: java), JAR (default: cli/target/loopdev.jar, built when missing), SIZE (image size,
# default 1G), RUNTIME (seconds per fio job, default 5), REPS (repetitions; the table shows the median, default 3),
# COPIES (nbdcopy runs per repetition, median, default 3), WARMUP (seconds of unrecorded I/O per server
# first, default 5), SERVERS (default: "loopdev-mapped loopdev-positional
# nbdkit"), BASE_JAR (another build, e.g. main's, served as base-mapped and base-positional when SERVERS names
# them: a change measured against what it changes, in the same run).
#
# The client matters as much as the server (nbdkit's BENCHMARKING notes): every figure here comes from fio's nbd
# engine or nbdcopy, both libnbd clients, over a unix socket. Compare ratios, not absolutes, across machines.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/../.." && pwd)
JAVA=${JAVA:-java}
JAR=${JAR:-$root/cli/target/loopdev.jar}
SIZE=${SIZE:-1G}
RUNTIME=${RUNTIME:-5}
REPS=${REPS:-3}
COPIES=${COPIES:-3}
WARMUP=${WARMUP:-5}
SERVERS=${SERVERS:-"loopdev-mapped loopdev-positional nbdkit"}
# System python: it only parses fio's JSON, but pyenv shims may not have a python3 at all.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

for tool in fio nbdcopy nbdkit nbdinfo "$JAVA"; do
  command -v "$tool" >/dev/null || { echo "nbd-bench: $tool not found (./run-tests installs the clients)" >&2; exit 1; }
done
if [ ! -f "$JAR" ]; then
  echo "nbd-bench: building $JAR" >&2
  (cd "$root" && mvn -q -B -pl cli -am package -DskipTests)
fi

work=$(mktemp -d /dev/shm/loopdev-bench.XXXXXX)
declare -A pid=()
stop_servers() {
  local p
  for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pid[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  pid=()
  return 0
}
cleanup() { stop_servers; rm -rf "$work"; }
trap cleanup EXIT INT TERM

source=$work/source.img
copy_out=$work/out.img
results=$work/results.txt
: > "$results"

echo "nbd-bench: creating $SIZE of random data in $work" >&2
head -c "$SIZE" /dev/urandom > "$source"
size_bytes=$(stat -c %s "$source")

# All servers run at once, each on its own copy of the image and its own socket, so that every workload is
# measured on each of them within seconds of the others: this VM's neighbours come and go over tens of seconds,
# and one server's whole run falling into a busy spell was the largest error in a ratio.
sock_of() { echo "$work/$1.sock"; }
uri_of() { echo "nbd+unix:///?socket=$(sock_of "$1")"; }

# start_server NAME: serves $work/NAME.img on its socket.
start_server() {
  local name=$1 sock image=$work/$1.img
  sock=$(sock_of "$name")
  cp "$source" "$image"
  case "$name" in
    loopdev-mapped|loopdev-positional)
      "$JAVA" -jar "$JAR" serve "$image" --unix "$sock" --write-path "${name#loopdev-}" \
          > /dev/null 2> "$work/$name.log" &
      pid[$name]=$! ;;
    base-mapped|base-positional)
      "$JAVA" -jar "${BASE_JAR:?BASE_JAR names the other build}" serve "$image" --unix "$sock" \
          --write-path "${name#base-}" > /dev/null 2> "$work/$name.log" &
      pid[$name]=$! ;;
    nbdkit)
      nbdkit -f -U "$sock" file "$image" 2> "$work/$name.log" &
      pid[$name]=$! ;;
    *) echo "nbd-bench: unknown server $name" >&2; exit 1 ;;
  esac
  for _ in $(seq 1 300); do
    [ -S "$sock" ] && nbdinfo --size "$(uri_of "$name")" >/dev/null 2>&1 && return 0
    kill -0 "${pid[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "nbd-bench: $name did not start" >&2; cat "$work/$name.log" >&2; exit 1
}

# fio_job SERVER NAME RW BS IODEPTH: one time-based fio run; records MiB/s and IOPS.
fio_job() {
  local server=$1 name=$2 rw=$3 bs=$4 depth=$5
  fio --name="$name" --ioengine=nbd --uri="$(uri_of "$server")" --rw="$rw" --bs="$bs" \
      --iodepth="$depth" --size="$size_bytes" --time_based --runtime="$RUNTIME" --ramp_time=1 \
      --randrepeat=0 --output-format=json --output="$work/fio.json" > /dev/null
  "$PY" - "$work/fio.json" "$server" "$name" "$rw" >> "$results" <<'PYEOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
side = "read" if "read" in sys.argv[4] else "write"
print(sys.argv[2], sys.argv[3], job[side]["bw_bytes"] / 2**20, job[side]["iops"])
PYEOF
}

# copy_job SERVER NAME DIRECTION: times COPIES nbdcopy runs of the whole image, in (source -> server) or out
# (server -> file, then compared with the source); records the median MiB/s. A file destination is removed
# before each run, as a fresh copy would find.
copy_job() {
  local server=$1 name=$2 dir=$3 from to t0 t1 runs=""
  if [ "$dir" = in ]; then from=$source; to=$(uri_of "$server"); else from=$(uri_of "$server"); to=$copy_out; fi
  for _ in $(seq "$COPIES"); do
    [ "$dir" = in ] || rm -f "$to"
    t0=$(date +%s.%N)
    nbdcopy "$from" "$to"
    t1=$(date +%s.%N)
    runs="$runs $t0:$t1"
    if [ "$dir" = out ] && ! cmp -s "$source" "$copy_out"; then
      echo "nbd-bench: $server: nbdcopy out differs from what went in" >&2; exit 1
    fi
  done
  "$PY" -c "
import statistics, sys
rates = [$size_bytes / 2**20 / (float(b) - float(a)) for a, b in (r.split(':') for r in sys.argv[3:])]
print(sys.argv[1], sys.argv[2], statistics.median(rates), 0)" "$server" "$name" $runs >> "$results"
}

# workload SERVER NAME: runs one named workload against one server.
workload() {
  case "$2" in
    seq-read-1M-qd8)    fio_job "$1" "$2" read 1M 8 ;;
    seq-write-1M-qd8)   fio_job "$1" "$2" write 1M 8 ;;
    rand-read-4k-qd16)  fio_job "$1" "$2" randread 4k 16 ;;
    rand-write-4k-qd16) fio_job "$1" "$2" randwrite 4k 16 ;;
    nbdcopy-in)         copy_job "$1" "$2" in ;;
    nbdcopy-out)        copy_job "$1" "$2" out ;;
  esac
}
WORKLOADS="seq-read-1M-qd8 seq-write-1M-qd8 rand-read-4k-qd16 rand-write-4k-qd16 nbdcopy-in nbdcopy-out"

read -ra servers <<< "$SERVERS"
for server in "${servers[@]}"; do start_server "$server"; done

# Warm-up, not recorded: a long-running server is measured, not the first seconds of a JVM (the JIT compiles
# the request path while the first few GiB go through). Every server gets the same.
echo "nbd-bench: warming up (${WARMUP}s of mixed I/O and one copy out per server)" >&2
for server in "${servers[@]}"; do
  fio --name=warmup --ioengine=nbd --uri="$(uri_of "$server")" --rw=randrw --bsrange=4k-1M --iodepth=8 \
      --size="$size_bytes" --time_based --runtime="$WARMUP" --output=/dev/null > /dev/null
  nbdcopy "$(uri_of "$server")" null:
done

for rep in $(seq 1 "$REPS"); do
  echo "nbd-bench: repetition $rep/$REPS" >&2
  for name in $WORKLOADS; do
    # rotate the order each repetition so that no server always runs first or last
    n=${#servers[@]}
    for i in $(seq 0 $((n - 1))); do
      workload "${servers[$(( (i + rep) % n ))]}" "$name"
    done
  done
done

echo
echo "loopdev NBD benchmark: image $SIZE in /dev/shm, fio $(fio --version), $(nbdkit --version | head -1),"
echo "nbdcopy $(nbdcopy --version | head -1 | awk '{print $2}'), JDK: $("$JAVA" -version 2>&1 | head -1)"
echo "servers side by side, ${WARMUP}s warm-up each, workloads interleaved; fio: ioengine=nbd, unix socket, time_based runtime=${RUNTIME}s ramp 1s;"
echo "median of $REPS repetitions (nbdcopy: of $COPIES runs each)"
echo
"$PY" - "$results" "$SERVERS" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    server, name, mib, iops = line.split()
    rows.setdefault(name, {}).setdefault(server, []).append((float(mib), float(iops)))
servers = sys.argv[2].split()
peer = "nbdkit"
loop = [s for s in servers if s != peer]
def fig(name, vals):
    mib = statistics.median(v[0] for v in vals)
    iops = statistics.median(v[1] for v in vals)
    return (iops, f"{iops/1000:8.1f}k IOPS") if "4k" in name else (mib, f"{mib:8.0f} MiB/s")
head = f"{'workload':<20}" + "".join(f"{s:>22}" for s in servers)
if peer in servers:
    head += "".join(f"{s.replace('loopdev-', '') + '/nbdkit':>20}" for s in loop)
print(head)
print("-" * len(head))
for name, by in rows.items():
    figs = {s: fig(name, by[s]) for s in servers if s in by}
    line = f"{name:<20}" + "".join(f"{figs[s][1]:>22}" for s in servers)
    if peer in figs:
        line += "".join(f"{figs[s][0] / figs[peer][0]:>20.2f}" for s in loop)
    print(line)
EOF

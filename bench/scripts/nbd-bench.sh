#!/usr/bin/env bash
# Drives the same NBD workloads against loopdev (mapped and positional write paths) and against nbdkit's file
# plugin, on the same image in /dev/shm, in the same run, and prints each figure and the ratio loopdev/nbdkit.
#
#   bench/scripts/nbd-bench.sh                     defaults below
#   JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java RUNTIME=10 REPS=3 bench/scripts/nbd-bench.sh
#
# Environment: JAVA (default: java), JAR (default: cli/target/loopdev.jar, built when missing), SIZE (image size,
# default 1G), RUNTIME (seconds per fio job, default 5), REPS (repetitions; the table shows the median, default 3),
# COPIES (nbdcopy runs per repetition, median, default 3), SERVERS (default: "loopdev-mapped loopdev-positional
# nbdkit").
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
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() { stop_server; rm -rf "$work"; }
trap cleanup EXIT INT TERM

image=$work/disk.img
source=$work/source.img
copy_out=$work/out.img
sock=$work/nbd.sock
results=$work/results.txt
: > "$results"

echo "nbd-bench: creating $SIZE of random data in $work" >&2
head -c "$SIZE" /dev/urandom > "$source"
cp "$source" "$image"
size_bytes=$(stat -c %s "$image")

# start_server NAME: serves $image on $sock; sets server_pid.
start_server() {
  rm -f "$sock"
  case "$1" in
    loopdev-mapped|loopdev-positional)
      "$JAVA" -jar "$JAR" serve "$image" --unix "$sock" --write-path "${1#loopdev-}" \
          > "$work/uri" 2> "$work/server.log" &
      server_pid=$! ;;
    nbdkit)
      nbdkit -f -U "$sock" file "$image" 2> "$work/server.log" &
      server_pid=$! ;;
    *) echo "nbd-bench: unknown server $1" >&2; exit 1 ;;
  esac
  for _ in $(seq 1 300); do
    [ -S "$sock" ] && nbdinfo --size "nbd+unix:///?socket=$sock" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "nbd-bench: $1 did not start" >&2; cat "$work/server.log" >&2; exit 1
}

# fio_job SERVER NAME RW BS IODEPTH: one time-based fio run; records MiB/s and IOPS.
fio_job() {
  local server=$1 name=$2 rw=$3 bs=$4 depth=$5
  fio --name="$name" --ioengine=nbd --uri="nbd+unix:///?socket=$sock" --rw="$rw" --bs="$bs" \
      --iodepth="$depth" --size="$size_bytes" --time_based --runtime="$RUNTIME" --ramp_time=1 \
      --randrepeat=0 --output-format=json --output="$work/fio.json" > /dev/null
  "$PY" - "$work/fio.json" "$server" "$name" "$rw" >> "$results" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
side = "read" if "read" in sys.argv[4] else "write"
print(sys.argv[2], sys.argv[3], job[side]["bw_bytes"] / 2**20, job[side]["iops"])
EOF
}

# copy_job SERVER NAME FROM TO: times COPIES nbdcopy runs (a whole copy takes well under a second, so one is
# noisy); records the median MiB/s. A file destination is removed before each run, as a fresh copy would find.
copy_job() {
  local server=$1 name=$2 from=$3 to=$4 t0 t1 runs=""
  for _ in $(seq "$COPIES"); do
    case "$to" in nbd*) ;; *) rm -f "$to" ;; esac
    t0=$(date +%s.%N)
    nbdcopy "$from" "$to"
    t1=$(date +%s.%N)
    runs="$runs $t0:$t1"
  done
  "$PY" -c "
import statistics, sys
rates = [$size_bytes / 2**20 / (float(b) - float(a)) for a, b in (r.split(':') for r in sys.argv[3:])]
print(sys.argv[1], sys.argv[2], statistics.median(rates), 0)" "$server" "$name" $runs >> "$results"
}

uri="nbd+unix:///?socket=$sock"
for rep in $(seq 1 "$REPS"); do
  for server in $SERVERS; do
    echo "nbd-bench: repetition $rep/$REPS, $server" >&2
    start_server "$server"
    fio_job "$server" "seq-read-1M-qd8" read 1M 8
    fio_job "$server" "seq-write-1M-qd8" write 1M 8
    fio_job "$server" "rand-read-4k-qd16" randread 4k 16
    fio_job "$server" "rand-write-4k-qd16" randwrite 4k 16
    copy_job "$server" "nbdcopy-in" "$source" "$uri"
    copy_job "$server" "nbdcopy-out" "$uri" "$copy_out"
    cmp -s "$source" "$copy_out" || { echo "nbd-bench: $server: nbdcopy out differs from what went in" >&2; exit 1; }
    stop_server
  done
done

echo
echo "loopdev NBD benchmark: image $SIZE in /dev/shm, fio $(fio --version), $(nbdkit --version | head -1),"
echo "nbdcopy $(nbdcopy --version | head -1 | awk '{print $2}'), JDK: $("$JAVA" -version 2>&1 | head -1)"
echo "fio: ioengine=nbd, unix socket, time_based runtime=${RUNTIME}s ramp 1s; median of $REPS repetitions (nbdcopy: of $COPIES runs each)"
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

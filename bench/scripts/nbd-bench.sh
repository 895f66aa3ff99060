#!/usr/bin/env bash
# Drives the same NBD workloads against loopdev (mapped and positional write paths) and against nbdkit's file
# plugin, Debian 12's and Debian 13's, on the same image in /dev/shm, in the same run, and prints for each server
# the throughput and the server's CPU time per GiB moved, with the ratios loopdev/nbdkit.
#
#   bench/scripts/nbd-bench.sh                     defaults below
#   JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java RUNTIME=10 REPS=7 bench/scripts/nbd-bench.sh
#
# Environment: JAVA (default: java), JAR (default: cli/target/loopdev.jar, built when missing), SIZE (image size,
# default 1G), RUNTIME (seconds per fio job, default 5), IO_SIZE (instead of RUNTIME: the bytes each fio job
# moves, e.g. 1G, so that every server does the same work: steadier for an A/B of a small change), REPS
# (repetitions; the tables show the median, default 5), COPIES (nbdcopy runs per repetition, default 3), WARMUP
# (seconds of unrecorded I/O per server first, default 5), SERVERS (default: "loopdev-mapped loopdev-positional nbdkit nbdkit-trixie", the last only when the
# chroot exists; loopdev-mapped-copying and loopdev-positional-copying run with in-place transfers off,
# -Dloopdev.nbd.inPlace=false, and baseline-mapped and baseline-positional with BASELINE_JAR, another build's
# loopdev.jar, for a before/after in one run; BASE_JAR and base-mapped, base-positional are the same; without
# either, the baseline is this jar), ARGS and BASELINE_ARGS (JVM options of the loopdev-* and baseline-* servers,
# e.g. BASELINE_ARGS=-Dloopdev.nbd.inlineWriteBytes=1048576 for an A/B of a tuning in one run), FRESH (set: each
# job gets a server of its own, started and warmed up for it and stopped after it, alone on the machine; unset:
# all servers run throughout),
# TRIXIE (a Debian 13 chroot with nbdkit, fio and
# libnbd-bin; default /var/cache/loopdev-bench/trixie; make it with bench/scripts/trixie-peers.sh), CLIENTS
# ("trixie": fio 3.39 and nbdcopy 1.22 from that chroot, the default when it exists; "host": Debian 12's fio
# 3.33 and nbdcopy 1.14),
# WORKLOADS (a subset of the names in the table), RAW (a file that receives every recorded figure, one job a line:
# server workload MiB/s IOPS bytes cpu-ticks).
#
# CPU: utime + stime of the server process (/proc/PID/stat, all its threads, those that exited included),
# sampled before and after each job, divided by the GiB the job moved: "CPU s/GiB", lower is better. Clients and
# servers share the machine's cores, so the CPU a server spends per byte is what its throughput is made of, and
# it swings far less than throughput when other work shares the machine.
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
IO_SIZE=${IO_SIZE:-}
if [ -n "$IO_SIZE" ]; then
  fio_amount=(--io_size="$IO_SIZE"); amount="io_size=$IO_SIZE"
else
  fio_amount=(--time_based --runtime="$RUNTIME"); amount="time_based runtime=${RUNTIME}s"
fi
REPS=${REPS:-5}
COPIES=${COPIES:-3}
WARMUP=${WARMUP:-5}
TRIXIE=${TRIXIE:-/var/cache/loopdev-bench/trixie}
have_trixie=false
[ -x "$TRIXIE/usr/sbin/nbdkit" ] || [ -x "$TRIXIE/usr/bin/nbdkit" ] && have_trixie=true
if $have_trixie; then
  SERVERS=${SERVERS:-"loopdev-mapped loopdev-positional nbdkit nbdkit-trixie"}
  CLIENTS=${CLIENTS:-trixie}
else
  SERVERS=${SERVERS:-"loopdev-mapped loopdev-positional nbdkit"}
  CLIENTS=${CLIENTS:-host}
fi
# System python: it only parses fio's JSON, but pyenv shims may not have a python3 at all.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TICKS=$(getconf CLK_TCK)

if [[ " $SERVERS " == *" nbdkit-trixie "* || "$CLIENTS" == trixie ]] && ! $have_trixie; then
  echo "nbd-bench: no Debian 13 chroot at $TRIXIE: make it with bench/scripts/trixie-peers.sh (or set TRIXIE)" >&2
  exit 1
fi
# The chroot's clients and server reach the sockets and images through a bind mount of the work directory at the
# same path inside the chroot, made in a mount namespace of this script's own, so that nothing stays mounted
# however the script ends.
if $have_trixie && [ -z "${NBD_BENCH_UNSHARED:-}" ]; then
  exec unshare --mount --propagation private env NBD_BENCH_UNSHARED=1 "$0" "$@"
fi

for tool in fio nbdcopy nbdkit nbdinfo "$JAVA"; do
  command -v "$tool" >/dev/null || { echo "nbd-bench: $tool not found (./run-tests installs the clients)" >&2; exit 1; }
done
if [ ! -f "$JAR" ]; then
  echo "nbd-bench: building $JAR" >&2
  (cd "$root" && mvn -q -B -pl cli -am package -DskipTests)
fi

work=$(mktemp -d /dev/shm/loopdev-bench.XXXXXX)
if $have_trixie; then
  mkdir -p "$TRIXIE$work" "$TRIXIE/proc"
  mount --bind "$work" "$TRIXIE$work"
  mountpoint -q "$TRIXIE/proc" || mount -t proc proc "$TRIXIE/proc"
fi
# client CMD...: runs a client program from the chosen distribution.
client() {
  if [ "$CLIENTS" = trixie ]; then chroot "$TRIXIE" "$@"; else "$@"; fi
}

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
cleanup() {
  stop_servers
  if [ -n "${RAW:-}" ] && [ -f "$work/results.txt" ]; then cp "$work/results.txt" "$RAW"; fi
  rm -rf "$work"
}
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
  rm -f "$sock" # a stopped server's socket file (FRESH starts each server again)
  cp "$source" "$image"
  case "$name" in
    loopdev-mapped|loopdev-positional|loopdev-mapped-copying|loopdev-positional-copying|baseline-mapped|baseline-positional|base-mapped|base-positional)
      # -copying: in-place transfers off (every byte through a buffer of the server's); baseline-: another build
      # ($BASELINE_JAR): for a before/after in one run
      local wp=${name#*-} opts=() jar=$JAR
      [[ $wp == *-copying ]] && { wp=${wp%-copying}; opts=(-Dloopdev.nbd.inPlace=false); }
      [[ $name == base* ]] && jar=${BASELINE_JAR:-${BASE_JAR:-$JAR}}
      if [[ $name == base* ]]; then opts+=(${BASELINE_ARGS:-}); else opts+=(${ARGS:-}); fi
      "$JAVA" "${opts[@]}" -jar "$jar" serve "$image" --unix "$sock" --write-path "$wp" \
          > /dev/null 2> "$work/$name.log" &
      pid[$name]=$! ;;
    nbdkit)
      nbdkit -f -U "$sock" file "$image" 2> "$work/$name.log" &
      pid[$name]=$! ;;
    nbdkit-trixie)  # chroot execs nbdkit: the PID is nbdkit's
      chroot "$TRIXIE" nbdkit -f -U "$sock" file "$image" 2> "$work/$name.log" &
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

# cpu_ticks SERVER: the server process's utime + stime so far, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the parenthesised command name, which may hold spaces).
cpu_ticks() {
  local stat
  stat=$(< "/proc/${pid[$1]}/stat")
  stat=${stat##*) }
  awk '{print $12 + $13}' <<< "$stat"
}

# record SERVER NAME MIB_PER_S IOPS BYTES CPU_TICKS
record() {
  echo "$1 $2 $3 $4 $5 $6" >> "$results"
}

# fio_job SERVER NAME RW BS IODEPTH: one fio run (time-based, or IO_SIZE bytes); records MiB/s, IOPS, bytes moved and server CPU. No
# ramp time: the CPU is sampled around the whole run, so the bytes must be the whole run's too (the servers were
# warmed up before).
fio_job() {
  local server=$1 name=$2 rw=$3 bs=$4 depth=$5 c0 c1
  c0=$(cpu_ticks "$server")
  client fio --name="$name" --ioengine=nbd --uri="$(uri_of "$server")" --rw="$rw" --bs="$bs" \
      --iodepth="$depth" --size="$size_bytes" "${fio_amount[@]}" \
      --randrepeat=0 --output-format=json --output="$work/fio.json" > /dev/null
  c1=$(cpu_ticks "$server")
  read -r mib iops bytes < <("$PY" - "$work/fio.json" "$rw" <<'PYEOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
side = job["read" if "read" in sys.argv[2] else "write"]
print(side["bw_bytes"] / 2**20, side["iops"], side["io_bytes"])
PYEOF
)
  record "$server" "$name" "$mib" "$iops" "$bytes" $((c1 - c0))
}

# copy_job SERVER NAME DIRECTION: times COPIES nbdcopy runs of the whole image, in (source -> server) or out
# (server -> file, then compared with the image the server serves); records the median MiB/s, and the server CPU over all COPIES
# runs. A file destination is removed before each run, as a fresh copy would find.
copy_job() {
  local server=$1 name=$2 dir=$3 from to t0 t1 runs="" cpu=0 c0 c1
  if [ "$dir" = in ]; then from=$source; to=$(uri_of "$server"); else from=$(uri_of "$server"); to=$copy_out; fi
  for _ in $(seq "$COPIES"); do
    [ "$dir" = in ] || rm -f "$to"
    c0=$(cpu_ticks "$server")
    t0=$(date +%s.%N)
    client nbdcopy "$from" "$to"
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "$server")
    cpu=$((cpu + c1 - c0))
    runs="$runs $t0:$t1"
    if [ "$dir" = out ] && ! cmp -s "$work/$server.img" "$copy_out"; then
      echo "nbd-bench: $server: nbdcopy out differs from the image it serves" >&2; exit 1
    fi
  done
  mib=$("$PY" -c "
import statistics, sys
print(statistics.median($size_bytes / 2**20 / (float(b) - float(a)) for a, b in (r.split(':') for r in sys.argv[1:])))" $runs)
  record "$server" "$name" "$mib" 0 $((size_bytes * COPIES)) "$cpu"
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
WORKLOADS=${WORKLOADS:-"seq-read-1M-qd8 seq-write-1M-qd8 rand-read-4k-qd16 rand-write-4k-qd16 nbdcopy-in nbdcopy-out"}

# Warm-up, not recorded: a long-running server is measured, not the first seconds of a JVM (the JIT compiles
# the request path while the first few GiB go through). Every server gets the same.
warm_up() {
  client fio --name=warmup --ioengine=nbd --uri="$(uri_of "$1")" --rw=randrw --bsrange=4k-1M --iodepth=8 \
      --size="$size_bytes" --time_based --runtime="$WARMUP" --output=/dev/null > /dev/null
  client nbdcopy "$(uri_of "$1")" null:
}

read -ra servers <<< "$SERVERS"
if [ -z "${FRESH:-}" ]; then
  for server in "${servers[@]}"; do start_server "$server"; done
  echo "nbd-bench: warming up (${WARMUP}s of mixed I/O and one copy out per server)" >&2
  for server in "${servers[@]}"; do warm_up "$server"; done
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq 1 "$REPS"); do
  echo "nbd-bench: repetition $rep/$REPS (load average $(cut -d' ' -f1 /proc/loadavg))" >&2
  for name in $WORKLOADS; do
    # rotate the order each repetition so that no server always runs first or last
    n=${#servers[@]}
    for i in $(seq 0 $((n - 1))); do
      server=${servers[$(( (i + rep) % n ))]}
      if [ -n "${FRESH:-}" ]; then start_server "$server"; warm_up "$server"; fi
      workload "$server" "$name"
      if [ -n "${FRESH:-}" ]; then stop_servers; fi
    done
  done
done

versions="nbdkit $(nbdkit --version | awk '{print $2}')"
$have_trixie && versions="$versions, nbdkit-trixie $(chroot "$TRIXIE" nbdkit --version | awk '{print $2}')"
echo
echo "loopdev NBD benchmark: image $SIZE in /dev/shm; $versions; clients ($CLIENTS): $(client fio --version),"
echo "nbdcopy $(client nbdcopy --version | head -1 | awk '{print $2}'); JDK: $("$JAVA" -version 2>&1 | head -1)"
if [ -n "${FRESH:-}" ]; then how="a fresh server alone for each job"; else how="servers side by side"; fi
echo "$how, ${WARMUP}s warm-up each, workloads interleaved; fio: ioengine=nbd, unix socket, $amount;"
echo "median of $REPS repetitions (nbdcopy: of $COPIES runs each); load average before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$PY" - "$results" "$SERVERS" "$TICKS" <<'EOF'
import statistics, sys
ticks = float(sys.argv[3])
rows = {}
for line in open(sys.argv[1]):
    server, name, mib, iops, nbytes, cpu = line.split()
    rows.setdefault(name, {}).setdefault(server, []).append(
        (float(mib), float(iops), float(cpu) / ticks / (float(nbytes) / 2**30)))
servers = sys.argv[2].split()
peers = [s for s in servers if s.startswith("nbdkit")]
loop = [s for s in servers if s not in peers]
short = lambda s: s.replace("loopdev-", "")
def thr(name, v):
    return v[1] if "4k" in name else v[0]
def show(name, x):
    return f"{x/1000:8.1f}k IOPS" if "4k" in name else f"{x:8.0f} MiB/s"

w = max(16, max(len(s) for s in servers) + 2)

def table(title, value, fmt):
    print(title)
    head = f"{'workload':<20}" + "".join(f"{s:>{w}}" for s in servers)
    head += "".join(f"{short(l) + '/' + p:>26}" for p in peers for l in loop)
    print(head)
    print("-" * len(head))
    for name, by in rows.items():
        med = {s: statistics.median(value(name, v) for v in by[s]) for s in servers if s in by}
        line = f"{name:<20}" + "".join(f"{fmt(name, med[s]):>{w}}" for s in servers if s in med)
        for p in peers:
            for l in loop:
                if p in by and l in by:
                    # per repetition: the ratio of the two figures taken within seconds of each other
                    per = sorted(value(name, a) / value(name, b) for a, b in zip(by[l], by[p]))
                    line += f"{med[l] / med[p]:.2f} ({per[0]:.2f}-{per[-1]:.2f})".rjust(26)
        print(line)
    print()

table("Throughput (median; ratio loopdev/nbdkit of the medians, above 1: loopdev faster; "
      "per-repetition range in brackets)", thr, show)
table("Server CPU seconds per GiB moved (utime+stime; ratio below 1: loopdev spends less)",
      lambda name, v: v[2], lambda name, x: f"{x:.3f} s")
EOF

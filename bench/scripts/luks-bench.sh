#!/usr/bin/env bash
# LUKS, side by side with cryptsetup and with loopdev's own plain transform, in one run:
#
#  unlock      an image formatted by cryptsetup with its own defaults (LUKS2, argon2id calibrated to 2 s here):
#              `cryptsetup open --test-passphrase` against `loopdev luks test-passphrase` (the system's libargon2
#              through JNA, as cryptsetup links it) run as `java -jar` and as `./loopdev` runs it (with the
#              build's class-data archive), and against loopdev with the Java fallback (Bouncy Castle), rounds
#              interleaved; wall-clock seconds, medians, ratio to cryptsetup.
#  throughput  the same encrypted data served three ways by `loopdev serve`: a LUKS2 image with 512-byte
#              sectors, one with 4096-byte sectors, and the 512-byte one again through the plain transform
#              (`--transform aes-xts-plain64` with the volume key cryptsetup dumps, `--luks off --offset 16M`,
#              `--iv-offset -32768`): the same cipher and the same bytes, so LUKS should cost nothing extra.
#              fio (ioengine=nbd) 1 MiB sequential and 4 KiB random, servers side by side, interleaved;
#              MiB/s or IOPS, and the server's CPU seconds (utime+stime) per GiB moved.
#
#   bench/scripts/luks-bench.sh                      both parts
#   PART=unlock ROUNDS=9 bench/scripts/luks-bench.sh
#   JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java PART=throughput REPS=5 bench/scripts/luks-bench.sh
#
# Environment: JAVA, JAR (default cli/target/loopdev.jar), PART (unlock|throughput|all), ROUNDS (unlock rounds,
# default 7), SIZE (throughput data, default 1G), RUNTIME (seconds per fio job, default 5), REPS (default 3).
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/../.." && pwd)
JAVA=${JAVA:-java}
JAR=${JAR:-$root/cli/target/loopdev.jar}
PART=${PART:-all}
ROUNDS=${ROUNDS:-7}
SIZE=${SIZE:-1G}
RUNTIME=${RUNTIME:-5}
REPS=${REPS:-3}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

for tool in cryptsetup fio nbdinfo "$JAVA"; do
  command -v "$tool" >/dev/null || { echo "luks-bench: $tool not found (./run-tests installs it)" >&2; exit 1; }
done
if [ ! -f "$JAR" ]; then
  (cd "$root" && mvn -q -B -pl cli -am package -DskipTests)
fi

work=$(mktemp -d /dev/shm/loopdev-luks-bench.XXXXXX)
declare -A pid=()
stop_servers() {
  local p
  for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pid[@]}"; do wait "$p" 2>/dev/null || true; done
  pid=()
}
cleanup() { stop_servers; rm -rf "$work"; }
trap cleanup EXIT INT TERM

pass=$work/pass
printf 'a passphrase for the benchmark' > "$pass"
now() { date +%s.%N; }

unlock_part() {
  local img=$work/unlock.img t0 t1
  truncate -s 64M "$img"
  echo "luks-bench: cryptsetup luksFormat with its defaults (argon2id, 2000 ms)" >&2
  cryptsetup luksFormat --batch-mode --key-file "$pass" "$img"
  cryptsetup luksDump "$img" | grep -E 'PBKDF|Time cost|Memory|Threads' >&2
  : > "$work/unlock.txt"
  for r in $(seq 1 "$ROUNDS"); do
    # rotate who goes first each round
    for i in 0 1 2 3; do
      case $(( (i + r) % 4 )) in
        0) t0=$(now); cryptsetup open --test-passphrase --key-file "$pass" "$img"; t1=$(now)
           echo "cryptsetup $t0 $t1" >> "$work/unlock.txt" ;;
        1) t0=$(now); "$JAVA" -jar "$JAR" luks test-passphrase "$img" --key-file "$pass" 2>/dev/null; t1=$(now)
           echo "loopdev-libargon2 $t0 $t1" >> "$work/unlock.txt" ;;
        2) t0=$(now); "$JAVA" -Dloopdev.luks.javaKdf=true -jar "$JAR" luks test-passphrase "$img" \
               --key-file "$pass" 2>/dev/null; t1=$(now)
           echo "loopdev-bouncycastle $t0 $t1" >> "$work/unlock.txt" ;;
        3) t0=$(now); "$root/loopdev" luks test-passphrase "$img" --key-file "$pass" 2>/dev/null; t1=$(now)
           echo "./loopdev $t0 $t1" >> "$work/unlock.txt" ;;
      esac
    done
  done
  echo
  echo "Unlock of a cryptsetup-default LUKS2 image (wall-clock seconds, median of $ROUNDS interleaved rounds;"
  echo "loopdev's time includes starting the JVM); $(cryptsetup --version); JDK: $("$JAVA" -version 2>&1 | head -1)"
  "$PY" - "$work/unlock.txt" <<'EOF'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    who, a, b = line.split()
    t.setdefault(who, []).append(float(b) - float(a))
base = statistics.median(t["cryptsetup"])
for who in ("cryptsetup", "loopdev-libargon2", "./loopdev", "loopdev-bouncycastle"):
    m = statistics.median(t[who])
    print(f"{who:<22} {m:6.2f} s   {m / base:5.2f}x cryptsetup   (runs: {' '.join(f'{x:.2f}' for x in t[who])})")
EOF
}

sock_of() { echo "$work/$1.sock"; }
uri_of() { echo "nbd+unix:///?socket=$(sock_of "$1")"; }

# start NAME IMAGE ARGS...: loopdev serve on NAME's socket.
start() {
  local name=$1 image=$2
  shift 2
  "$JAVA" -jar "$JAR" serve "$image" --unix "$(sock_of "$name")" "$@" > /dev/null 2> "$work/$name.log" &
  pid[$name]=$!
  for _ in $(seq 1 600); do
    [ -S "$(sock_of "$name")" ] && nbdinfo --size "$(uri_of "$name")" >/dev/null 2>&1 && return 0
    kill -0 "${pid[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "luks-bench: $name did not start" >&2; cat "$work/$name.log" >&2; exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# fio_job SERVER NAME RW BS DEPTH: records MiB/s, IOPS and CPU seconds per GiB of the server.
fio_job() {
  local server=$1 name=$2 rw=$3 bs=$4 depth=$5 c0 c1
  c0=$(cpu_ticks "${pid[$server]}")
  fio --name="$name" --ioengine=nbd --uri="$(uri_of "$server")" --rw="$rw" --bs="$bs" --iodepth="$depth" \
      --size="$data_bytes" --time_based --runtime="$RUNTIME" --ramp_time=1 --randrepeat=0 \
      --output-format=json --output="$work/fio.json" > /dev/null
  c1=$(cpu_ticks "${pid[$server]}")
  "$PY" - "$work/fio.json" "$server" "$name" "$rw" "$((c1 - c0))" "$(getconf CLK_TCK)" >> "$work/tp.txt" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
side = "read" if "read" in sys.argv[4] else "write"
moved = job[side]["io_bytes"] / 2**30
cpu = int(sys.argv[5]) / int(sys.argv[6])
print(sys.argv[2], sys.argv[3], job[side]["bw_bytes"] / 2**20, job[side]["iops"], cpu / moved if moved else 0)
EOF
}

throughput_part() {
  local l512=$work/luks512.img l4k=$work/luks4096.img vk=$work/vk.bin data=$work/data
  echo "luks-bench: two LUKS2 images of $SIZE of data (cheap keyslots: unlock is not measured here)" >&2
  data_bytes=$(numfmt --from=iec "$SIZE")
  for img in "$l512" "$l4k"; do truncate -s $((16 * 1024 * 1024 + data_bytes)) "$img"; done
  cryptsetup luksFormat --batch-mode --key-file "$pass" --sector-size 512 --pbkdf pbkdf2 \
      --pbkdf-force-iterations 1000 "$l512"
  cryptsetup luksFormat --batch-mode --key-file "$pass" --sector-size 4096 --pbkdf pbkdf2 \
      --pbkdf-force-iterations 1000 "$l4k"
  cryptsetup luksDump --batch-mode --dump-volume-key --volume-key-file "$vk" --key-file "$pass" "$l512" > /dev/null
  cp "$l512" "$work/plain.img"
  head -c "$data_bytes" /dev/urandom > "$data"
  start luks512 "$l512" --key-file "$pass"
  start luks4096 "$l4k" --key-file "$pass"
  start plain512 "$work/plain.img" --luks off --offset 16M --iv-offset -32768 --transform aes-xts-plain64 --key-size 512 \
      --key-file "$vk"
  local servers=(luks512 luks4096 plain512) s
  for s in "${servers[@]}"; do
    nbdcopy "$data" "$(uri_of "$s")"   # fills the image (and warms the JIT)
  done
  cmp <(nbdcopy "$(uri_of luks512)" - | head -c 1048576) <(nbdcopy "$(uri_of plain512)" - | head -c 1048576) \
      || { echo "luks-bench: LUKS and plain transform disagree" >&2; exit 1; }
  : > "$work/tp.txt"
  for rep in $(seq 1 "$REPS"); do
    echo "luks-bench: repetition $rep/$REPS" >&2
    for w in "seq-read-1M read 1M 8" "seq-write-1M write 1M 8" "rand-read-4k randread 4k 16" \
             "rand-write-4k randwrite 4k 16"; do
      read -r name rw bs depth <<< "$w"
      for i in 0 1 2; do
        fio_job "${servers[$(( (i + rep) % 3 ))]}" "$name" "$rw" "$bs" "$depth"
      done
    done
  done
  echo
  echo "The same data through LUKS2 (512- and 4096-byte sectors) and through the plain transform aes-xts-plain64;"
  echo "fio ioengine=nbd, unix socket, ${RUNTIME}s per job, median of $REPS interleaved repetitions; server CPU s/GiB."
  echo "fio $(fio --version); JDK: $("$JAVA" -version 2>&1 | head -1)"
  "$PY" - "$work/tp.txt" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    s, name, mib, iops, cpu = line.split()
    rows.setdefault(name, {}).setdefault(s, []).append((float(mib), float(iops), float(cpu)))
servers = ["luks512", "luks4096", "plain512"]
print(f"{'workload':<15}" + "".join(f"{s:>24}" for s in servers) + f"{'luks512/plain':>15}{'luks4096/luks512':>18}")
for name, by in rows.items():
    fig = {}
    out = f"{name:<15}"
    for s in servers:
        v = statistics.median(x[1] if "4k" in name else x[0] for x in by[s])
        cpu = statistics.median(x[2] for x in by[s])
        fig[s] = v
        out += f"{(f'{v/1000:.1f}k IOPS' if '4k' in name else f'{v:.0f} MiB/s'):>14} {cpu:5.2f} s/G"
    out += f"{fig['luks512'] / fig['plain512']:>15.2f}{fig['luks4096'] / fig['luks512']:>18.2f}"
    print(out)
EOF
  stop_servers
}

case "$PART" in
  unlock) unlock_part ;;
  throughput) throughput_part ;;
  all) unlock_part; throughput_part ;;
  *) echo "luks-bench: PART is unlock, throughput or all" >&2; exit 2 ;;
esac

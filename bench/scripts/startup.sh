#!/usr/bin/env bash
# Start-up: the time from starting a server to the first nbdinfo that gets an answer, for loopdev next to qemu-nbd
# and nbdkit, on the same image, interleaved in one run (the order rotates every round), as a script would see it:
# start the server in the background, then poll with nbdinfo until it answers.
#
#   bench/startup.sh                  ROUNDS=20
#   ROUNDS=40 JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java bench/startup.sh
#
# Environment: ROUNDS (default 20), JAVA (default: java), JAVA_OPTS (more JVM options for loopdev and loopdev-nocds),
# JIT (the JIT options the launchers pass, default packaging/jit.options; /dev/null for none), JAR (default: cli/target/loopdev.jar), JSA (the class-data
# archive built with the jar, default cli/target/loopdev.jsa), SERVERS (default: "loopdev loopdev-nocds
# loopdev-launcher qemu-nbd nbdkit"). loopdev-nocds runs the same jar without the archive (-Xshare:auto, the JDK's
# own archive only); loopdev-launcher is ./loopdev, the command the README shows; loopdev-base runs BASE_JAR, another
# build's jar (say, the commit before a start-up change), as loopdev-nocds runs this one, or with BASE_JSA, that
# build's class-data archive, as loopdev runs this one, but never with the JIT options (JIT). loopdev and
# loopdev-nocds get the JIT options the launchers pass.
#
# Prints, per server, the median, fastest and slowest wall-clock milliseconds over the rounds, and the median CPU
# milliseconds (user + system, all threads, from /proc/PID/stat at the first answer): on a busy machine the wall
# clock mostly measures the neighbours, the CPU time much less so.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-20}
JAVA=${JAVA:-java}
JAR=${JAR:-$root/cli/target/loopdev.jar}
JSA=${JSA:-$root/cli/target/loopdev.jsa}
SERVERS=${SERVERS:-"loopdev loopdev-nocds loopdev-launcher qemu-nbd nbdkit"}
JIT=${JIT:-$root/packaging/jit.options}

for tool in nbdinfo nbdkit qemu-nbd "$JAVA"; do
  command -v "$tool" >/dev/null || { echo "startup: $tool not found (./run-tests installs it)" >&2; exit 1; }
done
[ -f "$JAR" ] || { echo "startup: $JAR is missing: build it with ./loopdev --version" >&2; exit 1; }
[ -f "$JSA" ] || echo "startup: $JSA is missing: 'loopdev' runs without an archive" >&2

work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill -KILL "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
truncate -s 1G "$work/disk.img"
sock=$work/nbd.sock
uri="nbd+unix:///?socket=$sock"

now_ns() { date +%s%N; }

# cpu_ms PID: user + system CPU time of the process so far, in milliseconds.
cpu_ms() {
  local stat
  stat=$(cat "/proc/$1/stat")
  stat=${stat##*) }   # the fields after the command name, which may hold spaces
  read -ra f <<< "$stat"
  echo $(( (f[11] + f[12]) * 1000 / $(getconf CLK_TCK) ))
}

# one NAME: starts the server NAME, polls until nbdinfo answers, prints "WALL_MS CPU_MS", stops the server.
one() {
  local name=$1 t0 t1 cpu
  rm -f "$sock"
  t0=$(now_ns)
  case $name in
    loopdev) "$JAVA" "@$JIT" ${JAVA_OPTS:-} -XX:SharedArchiveFile="$JSA" -jar "$JAR" serve "$work/disk.img" \
                 --unix "$sock" >/dev/null 2>>"$work/$name.log" & ;;
    loopdev-nocds) "$JAVA" "@$JIT" ${JAVA_OPTS:-} -jar "$JAR" serve "$work/disk.img" --unix "$sock" \
                 >/dev/null 2>>"$work/$name.log" & ;;
    loopdev-base) "$JAVA" ${JAVA_OPTS:-} ${BASE_JSA:+-XX:SharedArchiveFile="$BASE_JSA"} \
                      -jar "${BASE_JAR:?loopdev-base needs BASE_JAR}" serve "$work/disk.img" \
                      --unix "$sock" >/dev/null 2>>"$work/$name.log" & ;;
    loopdev-launcher) "$root/loopdev" serve "$work/disk.img" --unix "$sock" >/dev/null 2>>"$work/$name.log" & ;;
    qemu-nbd) qemu-nbd -f raw -t -k "$sock" "$work/disk.img" 2>>"$work/$name.log" & ;;
    nbdkit) nbdkit -f -U "$sock" file "$work/disk.img" 2>>"$work/$name.log" & ;;
    *) echo "startup: unknown server $name" >&2; exit 2 ;;
  esac
  server=$!
  until nbdinfo --size "$uri" >/dev/null 2>&1; do
    if ! kill -0 "$server" 2>/dev/null; then
      echo "startup: $name exited before answering:" >&2
      cat "$work/$name.log" >&2
      exit 1
    fi
  done
  t1=$(now_ns)
  cpu=$(cpu_ms "$server")
  kill -TERM "$server"
  wait "$server" 2>/dev/null || true
  server=
  echo "$(( (t1 - t0) / 1000000 )) $cpu"
}

declare -A times=() cpus=()
read -ra names <<< "$SERVERS"
for name in "${names[@]}"; do one "$name" >/dev/null; done   # warm the page cache once each
for ((r = 0; r < ROUNDS; r++)); do
  for ((i = 0; i < ${#names[@]}; i++)); do
    name=${names[$(( (i + r) % ${#names[@]} ))]}
    read -r wall cpu <<< "$(one "$name")"
    times[$name]+="$wall "
    cpus[$name]+="$cpu "
  done
done

sorted() { tr ' ' '\n' <<< "$1" | sed '/^$/d' | sort -n | tr '\n' ' '; }
echo "startup: $ROUNDS rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '%-18s %10s %10s %10s %14s\n' server wall_median min max cpu_ms_median
for name in "${names[@]}"; do
  read -ra t <<< "$(sorted "${times[$name]}")"
  read -ra c <<< "$(sorted "${cpus[$name]}")"
  printf '%-18s %10s %10s %10s %14s\n' "$name" "${t[$(( ${#t[@]} / 2 ))]}" "${t[0]}" "${t[-1]}" \
      "${c[$(( ${#c[@]} / 2 ))]}"
done

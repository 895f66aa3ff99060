#!/usr/bin/env bash
# loopdev's sector ciphers (JMH SectorTransformBenchmark) side by side with `openssl speed -evp` on the same
# cipher, in alternating rounds, both counted per CPU second: openssl speed divides by user CPU time unless told
# -elapsed, and the JMH runs use dev.loopdev.bench.CpuTimeProfiler. Prints the medians over the rounds and the
# ratio loopdev/openssl; openssl's unit is one call per sector (-bytes SECTOR), as dm-crypt calls it.
#
#   bench/scripts/cipher-bench.sh
#   SECTOR=512 REQUEST="512 65536" SPECS="aes-cbc-plain:128 aes-xts-plain64:256" bench/scripts/cipher-bench.sh
#   JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java bench/scripts/cipher-bench.sh
#
# Environment: JAVA (default java), JAR (default bench/target/benchmarks.jar, built with the reactor when
# missing), SPECS (spec:keybits, default "aes-xts-plain64:512 aes-xts-plain64:256"), SECTOR (the transform's
# sector size, default 4096), REQUEST (request sizes in bytes, default "4096 65536"), ROUNDS (default 3),
# JMH_OPTS (default "-f 1 -wi 3 -w 1 -i 5 -r 1"), OPENSSL_SECONDS (per openssl run, default 3), BASELINE_JAR (another
# build's benchmarks.jar, run in the same rounds: a "before" column), BASELINE_ARGS (JVM options of the baseline
# column's runs; with it alone the baseline is this jar, e.g. BASELINE_ARGS=-Dloopdev.xts=java for the Java XTS
# beside libcrypto's), ARGS (JVM options of the loopdev column's runs, e.g. -Dloopdev.xts=libcrypto at 512-byte
# sectors), BUFFERS (heap or direct request buffers, default heap).
#
#   BASELINE_ARGS=-Dloopdev.xts=java BUFFERS=direct bench/scripts/cipher-bench.sh
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/../.." && pwd)
JAVA=${JAVA:-java}
JAR=${JAR:-$root/bench/target/benchmarks.jar}
SPECS=${SPECS:-"aes-xts-plain64:512 aes-xts-plain64:256"}
SECTOR=${SECTOR:-4096}
REQUEST=${REQUEST:-"4096 65536"}
ROUNDS=${ROUNDS:-3}
JMH_OPTS=${JMH_OPTS:-"-f 1 -wi 3 -w 1 -i 5 -r 1"}
OPENSSL_SECONDS=${OPENSSL_SECONDS:-3}
BASELINE_ARGS=${BASELINE_ARGS:-}
ARGS=${ARGS:-}
BUFFERS=${BUFFERS:-heap}
[ -n "$BASELINE_ARGS" ] && BASELINE_JAR=${BASELINE_JAR:-$JAR}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

if [ ! -f "$JAR" ]; then
  echo "cipher-bench: building $JAR" >&2
  (cd "$root" && mvn -q -B -pl bench -am package -DskipTests)
fi

# The openssl cipher that computes what a spec computes, per sector.
peer_of() {
  local spec=${1%:*} bits=${1##*:}
  case "$spec" in
    aes-xts-*) echo "aes-$((bits / 2))-xts" ;;
    aes-cbc-*) echo "aes-$bits-cbc" ;;
    *) echo "cipher-bench: no openssl peer for $1" >&2; exit 1 ;;
  esac
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=$work/results.txt
: > "$results"

specs_csv=$(tr ' ' ',' <<< "$SPECS")
requests_csv=$(tr ' ' ',' <<< "$REQUEST")
for round in $(seq 1 "$ROUNDS"); do
  echo "cipher-bench: round $round/$ROUNDS (load average $(cut -d' ' -f1 /proc/loadavg))" >&2
  for spec in $SPECS; do
    peer=$(peer_of "$spec")
    for op in encrypt decrypt; do
      flag=""; [ "$op" = decrypt ] && flag=-decrypt
      # "AES-256-XTS    5829953.83k": thousands of bytes per user-CPU second
      kbps=$(openssl speed -evp "$peer" $flag -bytes "$SECTOR" -seconds "$OPENSSL_SECONDS" 2>/dev/null |
             awk 'END {sub(/k$/, "", $NF); print $NF}')
      echo "openssl $spec $op $SECTOR $(awk -v k="$kbps" 'BEGIN {print k * 1000 / 1e6}')" >> "$results"
    done
  done
  for who in loopdev ${BASELINE_JAR:+baseline}; do
    jar=$JAR; extra=$ARGS; jvm_args=()
    [ "$who" = baseline ] && jar=$BASELINE_JAR && extra=$BASELINE_ARGS
    [ -n "$extra" ] && jvm_args=(-jvmArgsAppend "$extra")
    # shellcheck disable=SC2086
    "$JAVA" -Djmh.ignoreLock=true -jar "$jar" SectorTransformBenchmark $JMH_OPTS "${jvm_args[@]}" \
        -p specAndBits="$specs_csv" -p requestBytes="$requests_csv" -p sectorSize="$SECTOR" -p buffers="$BUFFERS" \
        -prof dev.loopdev.bench.CpuTimeProfiler \
        -rf json -rff "$work/jmh.json" > "$work/jmh.log" 2>&1 || { cat "$work/jmh.log" >&2; exit 1; }
    "$PY" - "$work/jmh.json" "$who" >> "$results" <<'PYEOF'
import json, sys
for r in json.load(open(sys.argv[1])):
    p = r["params"]
    op = r["benchmark"].rsplit(".", 1)[1]
    n = int(p["requestBytes"])
    print(sys.argv[2], p["specAndBits"], op, n, r["secondaryMetrics"]["cpu"]["score"] * n / 1e6)
    print(sys.argv[2] + "-wall", p["specAndBits"], op, n, r["primaryMetric"]["score"] * n / 1e6)
PYEOF
  done
done

echo
echo "loopdev sector ciphers vs openssl speed, sector size $SECTOR bytes, $BUFFERS buffers, median of $ROUNDS alternating rounds"
[ -n "$ARGS" ] && echo "loopdev: $JAR $ARGS"
[ -n "${BASELINE_JAR:-}" ] && echo "baseline: $BASELINE_JAR $BASELINE_ARGS"
echo "$("$JAVA" -version 2>&1 | head -1); $(openssl version); load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "MB/s = 10^6 bytes per CPU second (openssl: user CPU; loopdev: the JMH process's CPU); wall-clock MB/s in brackets"
echo
"$PY" - "$results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    who, spec, op, n, mbs = line.split()
    rows.setdefault((spec, op), {}).setdefault((who, int(n)), []).append(float(mbs))
base = any(w == "baseline" for by in rows.values() for (w, n) in by)
print(f"{'spec':<24}{'op':<9}{'openssl':>10}  request  loopdev (wall)   ratio" + ("   baseline (wall)   ratio" if base else ""))
for (spec, op), by in rows.items():
    peer = [v for (w, n), v in by.items() if w == "openssl"][0]
    pm = statistics.median(peer)
    for (w, n), v in sorted(by.items()):
        if w != "loopdev":
            continue
        line = f"{spec:<24}{op:<9}{pm:>10.0f}  {n:>7}"
        for who in ["loopdev"] + (["baseline"] if base else []):
            m = statistics.median(by[(who, n)])
            wall = statistics.median(by[(who + "-wall", n)])
            line += f"  {m:>7.0f} ({wall:>5.0f})  {m / pm:>6.2f}"
        print(line)
EOF

#!/usr/bin/env bash
# fio on one image attached three ways at once, inside the test VM (Debian 13's kernel, 6.12, under TCG): as
# /dev/ublkbN by `loopdev attach --ublk`, as /dev/nbdN by `loopdev attach` (the kernel's NBD client over a socket
# pair), and as /dev/loopN by the kernel's own loop driver. Workloads are interleaved, the order rotating per
# repetition; the table shows medians and the ratios ublk/nbd and ublk/loop. TCG makes absolute figures
# meaningless (every guest instruction is emulated); the ratios show what each path costs. A fourth device,
# ublk-uc, is `attach --ublk --user-copy` (UBLK_F_USER_COPY: the server pread()s and pwrite()s the request's
# data on /dev/ublkcN instead of the driver copying into per-tag buffers) over a copy of the image, since one
# image takes one ublk server.
#
#   bench/scripts/ublk-bench.sh
#   RUNTIME=20 REPS=5 SIZE=1G bench/scripts/ublk-bench.sh
#
# Environment: JAR (default: cli/target/loopdev.jar, built when missing), SIZE (image, in the guest's tmpfs,
# default 512M), RUNTIME (seconds per fio job, default 10), REPS (default 3), WARMUP (seconds of unrecorded I/O
# per device first, default 60), QUEUES (ublk queues and NBD connections, default 1), WRITE_PATH (default auto),
# VM_CPUS (default 2), VM_MEMORY_MB (default 3072), LOOPDEV_VM_CACHE (default /var/cache/loopdev-vm), DEVICES
# (default "ublk nbd loop ublk-uc"), JVM_OPTS (the servers' JVM options, default -XX:+UseSerialGC).
#
# Under emulation the JIT is slow too: while C2 compiles the request path the servers run in lower tiers and the
# compiler threads compete with fio for the two vCPUs. With a 10 s warm-up the servers' CPU per GiB was 1,000 to
# 6,000 s and the ublk figures swung 2x between repetitions; WARMUP must outlast the compiler.
#
# Server CPU is the loopdev process's user+system time per GiB moved (the kernel's share, loop's included, is not
# counted anywhere): a second figure that the host's noise disturbs less than the rates.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/../.." && pwd)
JAR=${JAR:-$root/cli/target/loopdev.jar}
SIZE=${SIZE:-512M}
RUNTIME=${RUNTIME:-10}
REPS=${REPS:-3}
WARMUP=${WARMUP:-60}
QUEUES=${QUEUES:-1}
WRITE_PATH=${WRITE_PATH:-auto}
VM_CPUS=${VM_CPUS:-2}
VM_MEMORY_MB=${VM_MEMORY_MB:-3072}
JVM_OPTS=${JVM_OPTS:--XX:+UseSerialGC}
DEVICES=${DEVICES:-ublk nbd loop ublk-uc}
cache=${LOOPDEV_VM_CACHE:-/var/cache/loopdev-vm}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

for tool in fio qemu-system-x86_64 cpio losetup java; do
  command -v "$tool" >/dev/null || { echo "ublk-bench: $tool not found (./run-tests installs it)" >&2; exit 1; }
done
if [ ! -f "$JAR" ]; then
  echo "ublk-bench: building $JAR" >&2
  (cd "$root" && mvn -q -B -pl cli -am package -DskipTests)
fi

# Not under /tmp: the guest mounts its own tmpfs there; the work directory is shared with it over 9p.
work=$(mktemp -d /var/tmp/loopdev-ublk-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
kroot=$("$root/tests/vm/fetch.sh" "$cache" trixie)
"$root/tests/vm/build-initramfs.sh" "$kroot" "$work/initrd.gz" ublk_drv loop
cp "$JAR" "$work/loopdev.jar"
: > "$work/results.txt"

cat > "$work/guest.sh" <<GUEST
[ -n "\${BASH_VERSION:-}" ] || exec bash "\$0" "\$@"   # the VM's init runs it with sh
set -u
W=\$LOOPDEV_WORK
L="java $JVM_OPTS -jar \$W/loopdev.jar"
img=/tmp/bench.img
echo "ublk-bench: $SIZE of random data" >&2
head -c $SIZE /dev/urandom > \$img
size=\$(stat -c %s \$img)
declare -A dev=() pid=()
for k in $DEVICES; do
  case \$k in
    ublk) \$L attach --ublk --queues $QUEUES --write-path $WRITE_PATH \$img > /tmp/\$k.dev || exit 1 ;;
    ublk-uc) cp \$img /tmp/bench-uc.img
       \$L attach --ublk --user-copy --queues $QUEUES --write-path $WRITE_PATH /tmp/bench-uc.img > /tmp/\$k.dev || exit 1 ;;
    nbd) \$L attach --connections $QUEUES --write-path $WRITE_PATH \$img > /tmp/\$k.dev || exit 1 ;;
    loop) losetup -f --show \$img > /tmp/\$k.dev || exit 1 ;;
  esac
  dev[\$k]=\$(cat /tmp/\$k.dev)
done
# The servers' pids, for their CPU time (pgrep: a loopdev list would be one more JVM start under emulation).
for k in $DEVICES; do
  case \$k in
    ublk) pid[\$k]=\$(pgrep -f "attach --ublk --queues .* \$img") ;;
    ublk-uc) pid[\$k]=\$(pgrep -f "attach --ublk --user-copy .*bench-uc.img") ;;
    nbd) pid[\$k]=\$(pgrep -f "attach --connections .* \$img") ;;
  esac
  echo "ublk-bench: \$k is \${dev[\$k]}, served by pid \${pid[\$k]:-(the kernel)}" >&2
done
cpu() { [ -n "\${1:-}" ] && awk '{print \$14 + \$15}' /proc/\$1/stat || echo 0; }
run() { # run DEVICE NAME RW BS DEPTH SECONDS
  local k=\$1 name=\$2 c0 c1
  c0=\$(cpu "\${pid[\$k]:-}")
  fio --name=\$name --filename=\${dev[\$k]} --direct=1 --ioengine=libaio --rw=\$3 --bs=\$4 --iodepth=\$5 \\
      --size=\$size --time_based --runtime=\$6 --ramp_time=1 --randrepeat=0 --output-format=json \\
      --output=/tmp/fio.json > /dev/null || { echo "fio failed on \${dev[\$k]}" >&2; return 1; }
  c1=\$(cpu "\${pid[\$k]:-}")
  $PY - /tmp/fio.json \$k \$name \$((c1 - c0)) \$(getconf CLK_TCK) <<'PYEOF' >> \$W/results.txt
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
side = "read" if job["read"]["io_bytes"] else "write"
gib = (job["read"]["io_bytes"] + job["write"]["io_bytes"]) / 2**30
cpu = int(sys.argv[4]) / int(sys.argv[5])
print(sys.argv[2], sys.argv[3], job[side]["bw_bytes"] / 2**20, job[side]["iops"], cpu / gib if gib else 0)
PYEOF
}
for k in $DEVICES; do
  echo "ublk-bench: warming up \${dev[\$k]}" >&2
  fio --name=warmup --filename=\${dev[\$k]} --direct=1 --ioengine=libaio --rw=randrw --bsrange=4k-1M --iodepth=8 \\
      --size=\$size --time_based --runtime=$WARMUP --output=/dev/null > /dev/null
done
: > \$W/results.txt
devs=($DEVICES)
n=\${#devs[@]}
for rep in \$(seq 1 $REPS); do
  echo "ublk-bench: repetition \$rep/$REPS" >&2
  for w in "rand-read-4k-qd16 randread 4k 16" "rand-write-4k-qd16 randwrite 4k 16" \\
           "seq-read-1M-qd8 read 1M 8" "seq-write-1M-qd8 write 1M 8"; do
    set -- \$w
    for i in \$(seq 0 \$((n - 1))); do
      run \${devs[\$(( (i + rep) % n ))]} \$1 \$2 \$3 \$4 $RUNTIME
    done
  done
done
echo BENCH-DONE   # the VM powers off: the servers need no detach
GUEST

echo "ublk-bench: booting the VM (console in $work/console.txt); host load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$root/tests/vm/boot.sh" "$kroot/boot/vmlinuz-"* "$work/initrd.gz" "$work" "$VM_MEMORY_MB" "$VM_CPUS" \
    > "$work/console.txt" 2>&1 || true
if ! grep -q BENCH-DONE "$work/console.txt"; then
  echo "ublk-bench: the guest did not finish:" >&2; cat "$work/console.txt" >&2; exit 1
fi
grep '^ublk-bench' "$work/console.txt" >&2 || true

echo
echo "loopdev ublk benchmark, in a TCG guest ($VM_CPUS vCPUs, Linux $(basename "$kroot")): image $SIZE in the guest's"
echo "tmpfs attached at once ($DEVICES): loopdev attach --ublk (queues $QUEUES), loopdev attach (NBD,"
echo "connections $QUEUES), losetup, --ublk --user-copy on a copy; write path $WRITE_PATH; fio libaio O_DIRECT,"
echo "${RUNTIME}s per job, ${WARMUP}s warm-up per"
echo "device, workloads interleaved with the order rotating; medians of $REPS repetitions; host load at the end:"
echo "$(cut -d' ' -f1-3 /proc/loadavg). CPU: the serving loopdev process's user+system seconds per GiB."
echo
"$PY" - "$work/results.txt" "$DEVICES" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    dev, name, mib, iops, cpu = line.split()
    rows.setdefault(name, {}).setdefault(dev, []).append((float(mib), float(iops), float(cpu)))
devs = sys.argv[2].split()
ratios = [(a, b) for a, b in (("ublk", "nbd"), ("ublk", "loop"), ("ublk-uc", "ublk")) if a in devs and b in devs]
cpus = [d for d in devs if d != "loop"]
head = f"{'workload':<20}" + "".join(f"{d:>15}" for d in devs) + "".join(f"{a + '/' + b:>13}" for a, b in ratios) \
    + "".join(f"{'s/GiB ' + d:>15}" for d in cpus)
print(head)
print("-" * len(head))
for name, by in rows.items():
    med = {d: tuple(statistics.median(v[i] for v in by[d]) for i in range(3)) for d in devs if d in by}
    key = 1 if "4k" in name else 0
    fmt = (lambda v: f"{v[1] / 1000:9.2f}k IOPS") if key else (lambda v: f"{v[0]:9.1f} MiB/s")
    line = f"{name:<20}" + "".join(f"{fmt(med[d]):>15}" for d in devs)
    line += "".join(f"{med[a][key] / med[b][key]:>13.2f}" for a, b in ratios)
    line += "".join(f"{med[d][2]:>15.1f}" for d in cpus)
    print(line)
EOF

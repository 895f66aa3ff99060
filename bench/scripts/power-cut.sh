#!/usr/bin/env bash
# Power cuts, many of them: tests/PowerCutIT with more cuts than ./run-tests makes. The backing file sits on a
# disk that loses whatever was not flushed (nbdkit's writeback cache filter under nbdfuse, see
# tests/.../harness/VolatileDisk.java); a write storm with FLUSH and FUA runs against `loopdev serve` on it and
# the disk, the server and everything between die at once, CUTS times for each of {mapped, positional} x
# {none, xor}; then every FLUSHed or FUA write must be on the disk. Then ext4 on the export, EXT4_CUTS cuts per
# variant: e2fsck clean after journal replay, every fsynced file whole.
#
#   bench/scripts/power-cut.sh                  20 and 5 cuts per variant (about 15 minutes on 2 cores)
#   CUTS=50 EXT4_CUTS=0 bench/scripts/power-cut.sh
#
# Needs root (FUSE, loop devices, mount), nbdkit, nbdfuse, e2fsprogs; prints one line per variant and cut.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/../.." && pwd)
CUTS=${CUTS:-20}
EXT4_CUTS=${EXT4_CUTS:-5}

tests="PowerCutIT#flushedWritesSurviveAPowerCut"
[ "$EXT4_CUTS" -gt 0 ] && tests="PowerCutIT"
cd "$root"
status=0
mvn -B -ntp -q verify -pl tests -am -DskipTests=false -Dtest="$tests" -Dsurefire.failIfNoSpecifiedTests=false \
  -Dloopdev.powercut.cuts="$CUTS" -Dloopdev.powercut.ext4cuts="$EXT4_CUTS" > /dev/null || status=$?
report=tests/target/surefire-reports
grep -h -E "power cuts|files fsynced" "$report"/dev.loopdev.e2e.PowerCutIT-output.txt || true
grep -h -E "Tests run|FAIL" "$report"/dev.loopdev.e2e.PowerCutIT.txt || true
exit "$status"

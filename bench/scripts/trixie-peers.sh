#!/usr/bin/env bash
# Makes a Debian 13 (trixie) chroot holding the newer peers and clients for bench/nbd-bench.sh: nbdkit 1.42
# (file plugin), fio 3.39 and libnbd 1.22 (nbdcopy, nbdinfo). Debian 12's own packages stay the other peer.
#
#   bench/scripts/trixie-peers.sh [DIR]        DIR default: $TRIXIE, else /var/cache/loopdev-bench/trixie
#   TRIXIE=/var/cache/loopdev-bench/trixie bench/scripts/nbd-bench.sh
#
# The chroot lives outside the repository. The mirror is the one apt already uses on this host (the same Debian
# archive serves trixie); MIRROR overrides it. Needs root and debootstrap (apt-get install debootstrap); a second
# run on an existing chroot only installs what is missing.
set -euo pipefail

DIR=${1:-${TRIXIE:-/var/cache/loopdev-bench/trixie}}
PACKAGES="nbdkit libnbd-bin fio"

if [ -z "${MIRROR:-}" ]; then
  MIRROR=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/\{0,1\} *$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
           grep -v security | head -1 || true)
  [ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
fi
command -v debootstrap >/dev/null || { echo "trixie-peers: apt-get install debootstrap" >&2; exit 1; }

if [ ! -x "$DIR/usr/bin/apt-get" ]; then
  echo "trixie-peers: debootstrap trixie $DIR $MIRROR" >&2
  mkdir -p "$DIR"
  debootstrap --variant=minbase --include="${PACKAGES// /,}" trixie "$DIR" "$MIRROR"
else
  chroot "$DIR" apt-get install -y -q $PACKAGES
fi
chroot "$DIR" sh -c 'nbdkit --version; fio --version; nbdcopy --version | head -1'

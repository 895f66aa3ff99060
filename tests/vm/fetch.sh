#!/usr/bin/env bash
# Downloads (apt-get download, no install) and unpacks what the test VM boots: Debian's stock kernel with its
# modules, a static busybox for the initramfs, and nbd-client (with libnl-genl, which the host may lack).
# Usage: fetch.sh CACHE_DIR      Prints the unpacked root (CACHE_DIR/KERNEL_RELEASE) on stdout.
# Idempotent: an unpacked root that is complete is reused.
set -euo pipefail
cache=${1:?usage: fetch.sh CACHE_DIR}
mkdir -p "$cache"
# The kernel the linux-image-amd64 meta-package points at is the one whose package the mirror surely still has.
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || { echo "fetch.sh: cannot find the kernel package linux-image-amd64 depends on (apt-get update?)" >&2; exit 1; }
release=${pkg#linux-image-}
root="$cache/$release"
if [ -f "$root/.complete" ]; then
  echo "$root"
  exit 0
fi
debs="$cache/debs"
rm -rf "$root" "$debs"
mkdir -p "$debs" "$root"
(cd "$debs" && apt-get download -q "$pkg" busybox-static nbd-client libnl-genl-3-200 >&2)
for d in "$debs"/*.deb; do
  dpkg-deb -x "$d" "$root"
done
rm -rf "$debs"
test -f "$root/boot/vmlinuz-$release" && test -x "$root/bin/busybox" && test -x "$root/sbin/nbd-client"
touch "$root/.complete"
echo "$root"

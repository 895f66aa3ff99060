#!/usr/bin/env bash
# Downloads (apt-get download, no install) and unpacks what the test VM boots: a Debian kernel with its modules, a
# static busybox for the initramfs, and nbd-client (with libnl-genl, which the host may lack).
# Usage: fetch.sh CACHE_DIR [SUITE]      Prints the unpacked root (CACHE_DIR/KERNEL_RELEASE) on stdout.
# SUITE is the Debian suite whose kernel to boot (default: the host's own, bookworm here: Linux 6.1). Another suite
# (trixie: Linux 6.12, with ublk) is read through a private apt configuration under CACHE_DIR/apt-SUITE, from the
# same archive as the host's sources, so the host's apt state is never changed. The userland pieces (busybox,
# nbd-client) always come from the host's suite: the guest runs them against the host's libraries.
# Idempotent: an unpacked root that is complete is reused.
set -euo pipefail
cache=${1:?usage: fetch.sh CACHE_DIR [SUITE]}
suite=${2:-host}
mkdir -p "$cache"
apt_kernel=(apt-get)
if [ "$suite" != host ]; then
  # The archive the host uses: the first Debian URI of its deb822 or one-line sources.
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}')
  [ -n "$uri" ] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}')
  [ -n "$uri" ] || { echo "fetch.sh: no Debian archive in the host's apt sources" >&2; exit 1; }
  conf="$cache/apt-$suite"
  mkdir -p "$conf/lists/partial" "$conf/archives/partial" "$conf/parts" "$conf/preferences.d"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" > "$conf/sources.list"
  : > "$conf/status"
  apt_kernel=(apt-get -o Dir::Etc::SourceList="$conf/sources.list" -o Dir::Etc::SourceParts="$conf/parts"
    -o Dir::Etc::PreferencesParts="$conf/preferences.d" -o Dir::State::Lists="$conf/lists"
    -o Dir::State::status="$conf/status" -o Dir::Cache="$conf" -o Dir::Cache::archives="$conf/archives"
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Get::List-Cleanup=false)
  # Refreshed at most once a day: the mirror drops superseded kernels, so a stale list can name one it no longer has.
  if [ -z "$(find "$conf/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null)" ]; then
    "${apt_kernel[@]}" -q update >&2
  fi
fi
apt_cache=(apt-cache "${apt_kernel[@]:1}")
# The kernel the linux-image-amd64 meta-package points at is the one whose package the mirror surely still has.
pkg=$("${apt_cache[@]}" depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || { echo "fetch.sh: cannot find the kernel package linux-image-amd64 depends on in $suite (apt-get update?)" >&2; exit 1; }
release=${pkg#linux-image-}
release=${release%-unsigned}
root="$cache/$release"
if [ -f "$root/.complete" ]; then
  echo "$root"
  exit 0
fi
debs="$cache/debs-$release"
rm -rf "$root" "$debs"
mkdir -p "$debs" "$root"
(cd "$debs" && "${apt_kernel[@]}" download -q "$pkg" >&2 && apt-get download -q busybox-static nbd-client libnl-genl-3-200 >&2)
for d in "$debs"/*.deb; do
  dpkg-deb -x "$d" "$root"
done
rm -rf "$debs"
# A merged-/usr package (trixie) ships its modules under usr/lib/modules: give them the path the scripts use.
if [ ! -d "$root/lib/modules" ] && [ -d "$root/usr/lib/modules" ]; then
  mkdir -p "$root/lib" && ln -s ../usr/lib/modules "$root/lib/modules"
fi
test -f "$root/boot/vmlinuz-$release" && test -d "$root/lib/modules/$release" && test -x "$root/bin/busybox" \
  && test -x "$root/sbin/nbd-client"
touch "$root/.complete"
echo "$root"

#!/usr/bin/env bash
# Builds the test VM's initramfs: static busybox, the kernel modules the tests need (with their dependencies, in
# load order, decompressed on the host) and tests/vm/init. Everything else the guest runs comes from the host's
# root file system, shared read-only over 9p (see init).
# Usage: build-initramfs.sh ROOT OUT [MODULE...]     ROOT is what fetch.sh unpacked; OUT is the gzip'd newc cpio to
# write; each MODULE (ublk_drv, loop, ...) is loaded after the ones every VM test needs.
set -euo pipefail
root=${1:?usage: build-initramfs.sh ROOT OUT [MODULE...]}
out=${2:?usage: build-initramfs.sh ROOT OUT [MODULE...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
release=$(basename "$(ls -d "$root"/lib/modules/*/ | head -1)")
kdir="$root/lib/modules/$release"
# ext4 before nbd only because mkfs/mount need it; crc32c_generic is ext4's soft dependency (crypto-crc32c).
# dm-crypt's ciphers are loaded up front because the guest cannot modprobe (its modules are not on the host's
# root): xts and ecb for xts(aes) (aes_generic, cbc and sha256 are built in), essiv for cbc-essiv:sha256, aesni_intel
# so that TCG runs AES-NI instead of table code, af_alg/algif_skcipher for cryptsetup's kernel cipher checks, and
# loop for cryptsetup over a loop device on an image file.
wanted="virtio_pci virtio_net 9pnet_virtio 9p crc32c_generic ext4 nbd loop dm_mod dm_crypt ecb xts essiv aesni_intel
  af_alg algif_skcipher $*"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,host,lib/modules}
cp "$root/bin/busybox" "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"

declare -A path_of=() loaded=()
while IFS= read -r f; do
  n=$(basename "$f"); n=${n%%.ko*}; path_of[${n//-/_}]=$f
done < <(find "$kdir/kernel" -name '*.ko*')

order=()
add() {                                  # depth-first: dependencies first, each module once
  local m=${1//-/_} f deps d
  [ -n "${loaded[$m]:-}" ] && return 0
  loaded[$m]=1
  f=${path_of[$m]:-}
  if [ -z "$f" ]; then
    grep -q "/$m.ko" "$kdir/modules.builtin" && return 0
    echo "build-initramfs.sh: module $m not found in $kdir" >&2; exit 1
  fi
  deps=$(modinfo_field "$f" depends)
  for d in ${deps//,/ }; do add "$d"; done
  case "$f" in
    *.ko.xz) xz -dc "$f" ;;
    *.ko.zst) zstd -dcq "$f" ;;
    *.ko.gz) gzip -dc "$f" ;;
    *) cat "$f" ;;
  esac > "$stage/lib/modules/$m.ko"
  order+=("$m")
}
modinfo_field() {                        # the .modinfo section is NUL-separated key=value strings
  local f=$1 key=$2
  case "$f" in
    *.ko.xz) xz -dc "$f" ;; *.ko.zst) zstd -dcq "$f" ;; *.ko.gz) gzip -dc "$f" ;; *) cat "$f" ;;
  esac | tr '\0' '\n' | grep -a "^$key=" | head -1 | cut -d= -f2-
}
for m in $wanted; do add "$m"; done
printf '%s\n' "${order[@]}" > "$stage/lib/modules/order"

(cd "$stage" && find . | sort | cpio -o -H newc --quiet) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"

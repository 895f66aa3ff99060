#!/usr/bin/env bash
# Installs loopdev from a built checkout, or builds a Debian package of it. ./loopdev builds the jar, then runs
# this:
#   ./loopdev install [--prefix DIR] [--destdir DIR]   DIR/bin/loopdev, DIR/lib/loopdev/, man pages, bash
#                                                      completion, systemd units (default prefix /usr/local)
#   ./loopdev deb [DIR]                                DIR/loopdev_VERSION_all.deb (default: the current directory)
#
# The installed command runs the installed jar and never builds. Man pages are picocli's (AsciiDoc from the build,
# made into man(7) with asciidoctor, installed with apt-get when missing); so is the bash completion.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
target=$root/cli/target
version=$(sed -n 's/^version=//p' "$target/classes/dev/loopdev/cli/version.properties")

die() { echo "loopdev: $*" >&2; exit 2; }

need_tool() { # need_tool COMMAND PACKAGE
  command -v "$1" >/dev/null && return 0
  command -v apt-get >/dev/null || { echo "loopdev: $1 is needed: install $2" >&2; exit 1; }
  echo "loopdev: installing $2 (for $1)..." >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "$2"; } >&2
}

# install_tree PREFIX DESTDIR: everything under DESTDIR/PREFIX, made to run from PREFIX.
install_tree() {
  local prefix=$1 dest=$2$1
  need_tool asciidoctor asciidoctor
  install -d -m 0755 "$dest/bin" "$dest/lib/loopdev" "$dest/share/man/man1" \
      "$dest/share/bash-completion/completions" "$dest/lib/systemd/system" "$dest/share/doc/loopdev"
  install -m 0644 "$target/loopdev.jar" "$dest/lib/loopdev/loopdev.jar"
  local lib
  for lib in "$target"/jna/*/libjnidispatch.so; do   # JNA's native half, found next to the jar (Main)
    install -D -m 0644 "$lib" "$dest/lib/loopdev/jna/$(basename "$(dirname "$lib")")/libjnidispatch.so"
  done
  install -m 0755 "$root/packaging/cds-archive.sh" "$dest/lib/loopdev/cds-archive.sh"
  install -m 0644 "$root/packaging/jit.options" "$dest/lib/loopdev/jit.options"
  install -m 0755 "$root/packaging/loopdev.in" "$dest/bin/loopdev"
  asciidoctor --backend=manpage --attribute=mansource="loopdev $version" --attribute=manmanual="loopdev Manual" \
      --destination-dir="$dest/share/man/man1" "$target"/man/*.adoc
  gzip -9nf "$dest"/share/man/man1/loopdev*.1
  install -m 0644 "$target/loopdev.bash-completion" "$dest/share/bash-completion/completions/loopdev"
  local unit
  for unit in loopdev@.service loopdev@.socket; do
    sed "s|@BINDIR@|$prefix/bin|g" "$root/packaging/$unit" > "$dest/lib/systemd/system/$unit"
    chmod 0644 "$dest/lib/systemd/system/$unit"
  done
  install -m 0644 "$root/README.md" "$root/LICENSE" "$dest/share/doc/loopdev/"
}

install_cmd() {
  local prefix=/usr/local destdir=""
  while [ $# -gt 0 ]; do
    case $1 in
      --prefix) [ $# -ge 2 ] || die "install: --prefix needs a directory"; prefix=$2; shift 2 ;;
      --prefix=*) prefix=${1#*=}; shift ;;
      --destdir) [ $# -ge 2 ] || die "install: --destdir needs a directory"; destdir=$2; shift 2 ;;
      --destdir=*) destdir=${1#*=}; shift ;;
      *) die "install: unknown option '$1' (usage: ./loopdev install [--prefix DIR] [--destdir DIR])" ;;
    esac
  done
  case $prefix in /*) ;; *) die "install: --prefix must be an absolute path, not '$prefix'" ;; esac
  install_tree "$prefix" "$destdir"
  if [ -z "$destdir" ]; then
    # The class-data archive for this JVM and the jar where it now lives; a staged install (--destdir) has neither.
    "$prefix/lib/loopdev/cds-archive.sh" "${JAVA:-java}" "$prefix/lib/loopdev/loopdev.jar" \
        "$prefix/lib/loopdev/loopdev.jsa" || echo "loopdev: no class-data archive; it starts a little slower" >&2
  fi
  echo "loopdev: installed in $destdir$prefix ($prefix/bin/loopdev, man loopdev, bash completion, systemd units" \
      "loopdev@.socket and loopdev@.service)" >&2
}

deb_cmd() {
  [ $# -le 1 ] || die "deb: usage: ./loopdev deb [DIR]"
  local out=${1:-.}
  need_tool dpkg-deb dpkg
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  chmod 0755 "$stage"
  install_tree /usr "$stage"
  install -d -m 0755 "$stage/DEBIAN"
  cat > "$stage/DEBIAN/control" <<EOF
Package: loopdev
Version: $version
Architecture: all
Maintainer: loopdev developers <loopdev@localhost>
Depends: default-jre-headless (>= 2:1.17) | java17-runtime-headless, libfuse2 | libfuse2t64
Recommends: fuse3 | fuse
Suggests: nbd-client, libnbd-bin
Section: admin
Priority: optional
Installed-Size: $(du -sk "$stage/usr" | cut -f1)
Description: userspace loop block device over NBD and FUSE
 loopdev attaches a file, a disk image, as a block device from userspace: it
 serves it over NBD (TCP or a unix socket) to the kernel's nbd-client, qemu
 and the libnbd tools, or shows it as one file in a FUSE mount. Images can be
 encrypted as cryptoloop and dm-crypt plain mode encrypt them.
EOF
  cat > "$stage/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  /usr/lib/loopdev/cds-archive.sh java /usr/lib/loopdev/loopdev.jar /usr/lib/loopdev/loopdev.jsa \
    || echo "loopdev: no class-data archive; it starts a little slower" >&2
fi
EOF
  cat > "$stage/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
rm -f /usr/lib/loopdev/loopdev.jsa
EOF
  chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm"
  mkdir -p "$out"
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/loopdev_${version}_all.deb" >&2
  echo "$out/loopdev_${version}_all.deb"
}

case ${1:-} in
  install) shift; install_cmd "$@" ;;
  deb) shift; deb_cmd "$@" ;;
  *) die "usage: ./loopdev install [--prefix DIR] [--destdir DIR] | ./loopdev deb [DIR]" ;;
esac

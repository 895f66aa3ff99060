#!/usr/bin/env bash
# cds-archive.sh JAVA JAR ARCHIVE: writes the class-data sharing archive (AppCDS) for JAR as JAVA runs it, from a
# serve of a scratch image to one client (bash's /dev/tcp reading the server's greeting): the classes loopdev
# loads up to its first answer are then parsed and verified once, here, not at every start. The archive fits only
# that JVM and JAR at that path; another JVM ignores it. Run by the build (cli/pom.xml), by ./loopdev install and
# by the Debian package's postinst.
set -euo pipefail
java=$1 jar=$2 archive=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -f "$archive"
"$java" -XX:ArchiveClassesAtExit="$archive" -Xlog:cds=off -Xlog:cds+dynamic=off -jar "$jar" \
    serve "$work/training.img" --create=1M --quiet --unix="$work/nbd.sock" --listen=127.0.0.1:0 \
    --run='bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; head -c 18 <&3 >/dev/null"'
[ -s "$archive" ] || { echo "cds-archive: no archive written for $jar" >&2; exit 1; }

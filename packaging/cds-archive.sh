#!/usr/bin/env bash
# cds-archive.sh JAVA JAR ARCHIVE: writes the class-data sharing archive for JAR as JAVA runs it. A serve of a
# scratch image to one client (bash's /dev/tcp reading the server's greeting) lists the classes loopdev loads up
# to its first answer; a static archive of them (the JDK's own classes included) is then dumped, so that they are
# parsed and verified once, here, not at every start. A static dump, not -XX:ArchiveClassesAtExit: on JDK 17 only
# the static one takes picocli's classes (class-file version 49, which the dynamic archive refuses). The archive
# fits only that JVM and JAR at that path; another JVM ignores it. Run by the build (cli/pom.xml), by ./loopdev
# install and by the Debian package's postinst.
set -euo pipefail
java=$1 jar=$2 archive=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -f "$archive"
"$java" -XX:DumpLoadedClassList="$work/classes" -jar "$jar" \
    serve "$work/training.img" --create=1M --quiet --unix="$work/nbd.sock" --listen=127.0.0.1:0 \
    --run='bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; head -c 18 <&3 >/dev/null"'
# The dump names the classes it leaves out (a few picocli ones already linked, JFR's) as warnings: not errors.
"$java" -Xshare:dump -XX:SharedClassListFile="$work/classes" -XX:SharedArchiveFile="$archive" -Xlog:cds=off \
    -cp "$jar" >"$work/dump.log" 2>&1 || { cat "$work/dump.log" >&2; exit 1; }
[ -s "$archive" ] || { echo "cds-archive: no archive written for $jar" >&2; exit 1; }

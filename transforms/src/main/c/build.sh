#!/bin/sh
# Builds libloopdev-xts.so (xts_sectors.c) into the module's classes, where XtsSectors loads it from:
#   build.sh JAVA_HOME OUTPUT_DIRECTORY OS_ARCH
# Maven runs it (transforms/pom.xml, execution native-xts). It needs a C compiler and the JDK's jni.h.
set -eu
java_home=$1 out=$2/dev/loopdev/transforms/native/linux-$3 src=$(dirname "$0")/xts_sectors.c
cc=${CC:-$(command -v gcc || command -v cc || true)}
if [ -z "$cc" ]; then
  echo "build.sh: no C compiler: libloopdev-xts.so (AES-XTS, one call per request) needs one (apt-get install gcc)" >&2
  exit 1
fi
mkdir -p "$out"
exec "$cc" -O2 -fPIC -shared -Wall -Wextra -Werror -std=c11 \
  -I"$java_home/include" -I"$java_home/include/linux" \
  -Wl,-z,noexecstack -Wl,-z,relro,-z,now -o "$out/libloopdev-xts.so" "$src"

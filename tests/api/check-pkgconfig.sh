#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the build into a scratch DESTDIR and builds a program with the
# flags from the installed dmapipe.pc: the headers, the library and the .pc
# file work together the way a user's build sees them.
set -eu
builddir=$1
src=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
meson install -C "$builddir" --destdir "$out/root" --no-rebuild --quiet >/dev/null
pc=$(find "$out/root" -name dmapipe.pc | head -n 1)
if [ -z "$pc" ]; then
	echo "dmapipe.pc was not installed" >&2
	exit 1
fi
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$out/root"
cflags=$(pkg-config --cflags dmapipe)
libs=$(pkg-config --libs dmapipe)
echo "pkg-config: cflags '$cflags' libs '$libs'"
# a sanitizer build's library needs its runtime first in the program
extra=""
libfile=$(find "$out/root" -name 'libdmapipe.so.*' | head -n 1)
if ldd "$libfile" | grep -q libasan; then
	extra="-fsanitize=address,undefined"
fi
${CC:-cc} -std=c99 -pedantic -Werror $extra $cflags "$src" -o "$out/prog" $libs
LD_LIBRARY_PATH="$(pkg-config --variable=libdir dmapipe)" "$out/prog"

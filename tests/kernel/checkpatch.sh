#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# checkpatch.sh KERNEL_SRC CACHE_DIR
#
# Runs the kernel's scripts/checkpatch.pl --strict on every file of
# KERNEL_SRC (kernel/) and fails on any ERROR or WARNING (CHECKs are shown).
# checkpatch comes from the linux-source-6.12 package: only scripts/ is
# extracted from its tarball, once, into CACHE_DIR.
set -eu

src=$1 cache=$2

tarball=$(ls /usr/src/linux-source-6.12.tar.xz /usr/src/linux-source-*.tar.xz 2>/dev/null |
	head -n 1 || true)
if [ -z "$tarball" ]; then
	echo "SKIP: no /usr/src/linux-source-*.tar.xz (apt-get install linux-source-6.12)"
	exit 77
fi
command -v perl >/dev/null || { echo "SKIP: perl not found"; exit 77; }

top=$(basename "$tarball" .tar.xz)
checkpatch=$cache/$top/scripts/checkpatch.pl
if [ ! -x "$checkpatch" ] || [ "$tarball" -nt "$checkpatch" ]; then
	echo "extracting $top/scripts from $tarball (once)"
	rm -rf "$cache.tmp"
	mkdir -p "$cache.tmp"
	tar -xJf "$tarball" -C "$cache.tmp" --wildcards "$top/scripts/*"
	rm -rf "$cache"
	mv "$cache.tmp" "$cache"
	touch "$checkpatch"
fi

# from the project's root, so files are named kernel/... as in a kernel tree
cd "$src/.."
files=$(find "$(basename "$src")" \( -name '*.c' -o -name '*.h' -o -name Kbuild -o -name Makefile \) \
	-type f | sort)
out=$(perl "$checkpatch" --no-tree --strict --show-types --no-summary -f $files 2>&1 || true)
[ -z "$out" ] || printf '%s\n' "$out"
errors=$(printf '%s\n' "$out" | grep -c '^ERROR:' || true)
warnings=$(printf '%s\n' "$out" | grep -c '^WARNING:' || true)
checks=$(printf '%s\n' "$out" | grep -c '^CHECK:' || true)
echo "checkpatch --strict on $(echo $files | wc -w) files: $errors errors, $warnings warnings, $checks checks"
[ "$errors" -eq 0 ] && [ "$warnings" -eq 0 ]

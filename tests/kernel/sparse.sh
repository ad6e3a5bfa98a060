#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# sparse.sh KERNEL_SRC WORK_DIR KVER...
#
# Builds the modules of KERNEL_SRC (kernel/) with `make C=2 CHECK=sparse`
# against each KVER's headers, in a fresh copy under WORK_DIR, and fails on
# anything sparse reports about our files.
set -eu

src=$1 work=$2
shift 2

command -v sparse >/dev/null || { echo "SKIP: sparse not found (apt-get install sparse)"; exit 77; }
[ $# -gt 0 ] || { echo "SKIP: no kernel headers in /lib/modules/*/build"; exit 77; }

status=0
for kver in "$@"; do
	dir=$work/$kver
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$src" && tar -cf - --exclude=meson.build --exclude=kmod-build .) | (cd "$dir" && tar -xf -)
	log=$dir/sparse.log
	unset MAKEFLAGS MFLAGS MAKELEVEL
	if ! make -C "/lib/modules/$kver/build" M="$dir" C=2 CHECK=sparse \
		-j"$(nproc 2>/dev/null || echo 2)" modules >"$log" 2>&1; then
		cat "$log"
		echo "FAIL: $kver: the build failed"
		status=1
		continue
	fi
	# sparse's reports name the file: keep those about our sources
	reports=$(grep -E ': (warning|error): ' "$log" | grep -F "$dir/" || true)
	checked=$(grep -c '^  CHECK ' "$log" || true)
	if [ -n "$reports" ]; then
		printf '%s\n' "$reports"
		echo "FAIL: $kver: sparse reported $(printf '%s\n' "$reports" | wc -l) problems"
		status=1
	else
		echo "ok $kver: sparse checked $checked files, reported nothing"
	fi
done
exit $status

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Compares the dynamic symbols libdmapipe exports with tests/api/symbols.list.
set -eu
lib=$1
list=$2
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ { print $3 }' | sed 's/@.*//' | grep -v '^DMAPIPE_' | sort -u > "$actual"
if ! diff -u "$list" "$actual"; then
	echo "exported symbols differ from $list (- expected, + actual)" >&2
	exit 1
fi
echo "$(wc -l < "$actual") symbols exported, as listed"

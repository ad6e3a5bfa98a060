#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-abi.sh BASELINE LIBRARY HEADERS SUPPRESSIONS
#
# libdmapipe keeps the ABI of BASELINE (abidw of a released library,
# tests/abi/README.md): abidiff compares it with LIBRARY, public types only
# (those of HEADERS, the installed headers), with the changes a person
# reviewed and found compatible in SUPPRESSIONS (docs/ABI.md). Added
# functions and symbols are fine, and left out of the report
# (--no-added-syms: abidiff 2.2 counts them as a change, exit bit 4).
# abidiff's exit code is a bit field:
# 1 error, 2 usage error, 4 an ABI change (compatible or not: for a person
# to review), 8 an incompatible change (a symbol removed, or moved to
# another version). Any of them fails: an unreviewed change is a break
# until a suppression with its reason says otherwise. Exits 77 without
# abidiff (Debian: abigail-tools; .ci/deps.sh all installs it).
set -u

baseline=$1 lib=$2 headers=$3 suppressions=$4

if ! command -v abidiff >/dev/null 2>&1; then
	echo "SKIP: abidiff is not installed (Debian: abigail-tools, which .ci/deps.sh all installs)"
	exit 77
fi

abidiff --no-added-syms --suppressions "$suppressions" --headers-dir2 "$headers" --drop-private-types \
	"$baseline" "$lib"
rc=$?
if [ "$rc" -eq 0 ]; then
	echo "ok: the ABI of $(basename "$baseline") is kept (additions only)"
	exit 0
fi
[ $((rc & 1)) -ne 0 ] && echo "FAIL: abidiff failed (exit $rc)" >&2
[ $((rc & 8)) -ne 0 ] && echo "FAIL: incompatible ABI change (abidiff exit $rc): see above" >&2
[ $((rc & 9)) -eq 0 ] && echo "FAIL: ABI change to review (abidiff exit $rc): bridge it or, if it is compatible, suppress it with its reason (docs/ABI.md)" >&2
exit 1

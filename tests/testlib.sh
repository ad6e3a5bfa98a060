# SPDX-License-Identifier: MIT
# Shared by the shell tests (sourced, not run): a private directory, the
# background processes to stop on exit, and fail/ok reporting.
#   TAG=name; . testlib.sh     then: DIR, PIDS (append pids), fail MSG, ok MSG

DIR=$(mktemp -d "${TMPDIR:-/tmp}/dmapipe-${TAG:-test}-XXXXXX") || exit 1
PIDS=""

# shellcheck disable=SC2317 # called through trap
cleanup() {
	for pid in $PIDS; do
		kill "$pid" 2>/dev/null
	done
	for pid in $PIDS; do
		wait "$pid" 2>/dev/null
	done
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Prints the reason and the end of every log in $DIR, then exits 1.
fail() {
	echo "FAIL: $*"
	for f in "$DIR"/*.log "$DIR"/*.json; do
		[ -s "$f" ] || continue
		echo "---- $f"
		tail -n 25 "$f"
	done
	exit 1
}

ok() {
	echo "ok $*"
}

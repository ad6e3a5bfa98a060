# SPDX-License-Identifier: MIT
# Shared by the shell tests (sourced, not run): a private directory, the
# background processes to stop on exit, and fail/ok reporting.
#   TAG=name; . testlib.sh     then: DIR, PIDS (append pids), fail MSG, ok MSG,
#   skip MSG, bg NAME CMD..., wait_ok PID WHAT, wait_socket PATH

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

skip() {
	echo "SKIP: $*"
	exit 77
}

# bg NAME COMMAND...: runs COMMAND in the background, output in $DIR/NAME.log;
# its pid is in $LAST and is stopped on exit.
bg() {
	name=$1
	shift
	"$@" >"$DIR/$name.log" 2>&1 &
	LAST=$!
	PIDS="$PIDS $LAST"
}

# wait_ok PID WHAT: the process must exit 0 within ${WAIT_OK_SECONDS:-60} s.
wait_ok() {
	pid=$1
	what=$2
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le $((${WAIT_OK_SECONDS:-60} * 10)) ] || {
			kill "$pid"
			fail "$what did not finish in ${WAIT_OK_SECONDS:-60} s"
		}
		sleep 0.1
	done
	wait "$pid" || fail "$what exited with status $?"
}

# wait_socket PATH: a producer is listening on PATH (within 10 s).
wait_socket() {
	i=0
	while [ ! -S "$1" ]; do
		i=$((i + 1))
		[ $i -le 500 ] || fail "no socket at $1"
		sleep 0.02
	done
}

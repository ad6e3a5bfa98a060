# SPDX-License-Identifier: MIT
# Shared by the shell tests (sourced, not run): a private directory, the
# background processes to stop on exit, and fail/ok reporting.
#   TAG=name; . testlib.sh     then: DIR, PIDS (append pids), fail MSG, ok MSG,
#   skip MSG, bg NAME CMD..., wait_ok PID WHAT, wait_socket PATH,
#   jcheck FILE EXPR, expect_status STATUS ARGS... (runs $DMAPIPE),
#   json_u64/json_str FILE KEY, node_of NAME, stat_of LOG STRUCTURE FIELD;
#   a script may define at_exit, run on exit after the processes stopped

DIR=$(mktemp -d "${TMPDIR:-/tmp}/dmapipe-${TAG:-test}-XXXXXX") || exit 1
PIDS=""

# shellcheck disable=SC2317 # called through trap
at_exit() {
	:
}

# shellcheck disable=SC2317 # called through trap
cleanup() {
	for pid in $PIDS; do
		kill "$pid" 2>/dev/null
	done
	for pid in $PIDS; do
		wait "$pid" 2>/dev/null
	done
	at_exit
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

# waited N T0: "N s of 0.1 s polls (M s on the clock since T0)" for a wait's
# failure. The waits count their polls, which on a loaded machine take
# longer than their 0.1 s: the limit is then more generous than it says,
# and the message gives both.
waited() {
	echo "$1 s of 0.1 s polls ($(($(date +%s) - $2)) s on the clock)"
}

# wait_ok PID WHAT: the process must exit 0 within ${WAIT_OK_SECONDS:-60} s of polls.
wait_ok() {
	pid=$1
	what=$2
	i=0
	wait_t0=$(date +%s)
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le $((${WAIT_OK_SECONDS:-60} * 10)) ] || {
			kill "$pid"
			fail "$what did not finish in $(waited "${WAIT_OK_SECONDS:-60}" "$wait_t0")"
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

# wait_recorded LOG N: a `dmapipe record --progress` writing its lines to
# LOG has reported at least N frames written (within 60 s). Tests that kill
# a recorder mid-way wait for this instead of a fixed time, which a loaded
# machine may not be able to fill.
wait_recorded() {
	i=0
	wait_t0=$(date +%s)
	while :; do
		got=$(sed -n 's/^record: \([0-9]*\) frames.*/\1/p' "$1" 2>/dev/null | tail -n 1)
		[ -n "$got" ] && [ "$got" -ge "$2" ] && return 0
		i=$((i + 1))
		[ $i -le 600 ] || fail "the recorder wrote ${got:-no} frames in $(waited 60 "$wait_t0"), waited for $2"
		sleep 0.1
	done
}

# jcheck FILE PYTHON-EXPRESSION: the expression, with d = the parsed
# document, must be true (needs python3).
jcheck() {
	python3 - "$1" "$2" <<'EOF' || fail "$1: $2"
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
if not eval(sys.argv[2], {"d": d}):
    print("false: %s\n%s" % (sys.argv[2], json.dumps(d, indent=1)))
    sys.exit(1)
EOF
}

# expect_status STATUS ARGS...: `$DMAPIPE ARGS...` exits with STATUS; its
# output is in $DIR/out.log and $DIR/err.log.
expect_status() {
	want=$1
	shift
	"$DMAPIPE" "$@" >"$DIR/out.log" 2>"$DIR/err.log"
	status=$?
	[ $status -eq "$want" ] || fail "'dmapipe $*' exited $status, expected $want"
}

# json_u64 FILE KEY, json_str FILE KEY: the first number or string value of
# KEY in FILE (no parser needed)
json_u64() { sed -n "s/.*\"$2\": *\([0-9][0-9]*\).*/\1/p" "$1" | head -n 1; }
json_str() { sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p" "$1" | head -n 1; }

# node_of NAME: the /dev node of the video4linux device named NAME; 1 if none
node_of() {
	for d in /sys/class/video4linux/video*; do
		[ -r "$d/name" ] || continue
		if [ "$(cat "$d/name")" = "$1" ]; then
			echo "/dev/$(basename "$d")"
			return 0
		fi
	done
	return 1
}

# stat_of LOG STRUCTURE FIELD: the last guint64 FIELD of the STRUCTURE bus
# messages gst-launch-1.0 -m printed to LOG
stat_of() {
	sed -n "s/.*$2, .*$3=(guint64)\([0-9]*\).*/\1/p" "$1" | tail -n 1
}

#!/bin/sh
# SPDX-License-Identifier: MIT
# --realtime, --mlock, --cpu and --require-realtime (docs/REALTIME.md):
#   - as root, serve and record get what they asked for, and /proc says so
#     (the loop's thread SCHED_FIFO at the priority asked, pinned; the
#     library's and the tool's other threads not real-time; VmLck > 0);
#   - with CAP_SYS_NICE and CAP_IPC_LOCK dropped and RLIMIT_RTPRIO 0,
#     RLIMIT_MEMLOCK 64 KiB: one warning per refusal naming the limit, and
#     the recording is made anyway;
#   - the same with --require-realtime: exit 1, code "permission", no file
#     written, an existing file left as it was;
#   - bad values are usage errors (exit 2).
# --mlock is left out under AddressSanitizer, which turns mlockall() into
# a no-op that succeeds.
# Usage: test-realtime.sh DMAPIPE
DMAPIPE=$1
TAG=realtime
. "$(dirname "$0")/testlib.sh"

command -v setpriv >/dev/null && command -v prlimit >/dev/null ||
	skip "needs setpriv and prlimit (util-linux)"
[ "$(id -u)" = 0 ] || skip "needs root to be granted SCHED_FIFO and memory locking"
chrt -f 1 true 2>/dev/null || skip "SCHED_FIFO is not permitted here even to root"
MLOCK=--mlock
if ldd "$DMAPIPE" 2>/dev/null | grep -q libasan; then
	MLOCK=
	echo "# AddressSanitizer build: --mlock left out"
fi
NCPU=$(nproc)
CPU=$((NCPU - 1))
SOCK=$DIR/s

# --- granted: serve at 33 on the last CPU, record at 31 ---------------------
# exec: the pid is serve's own, its JSON apart from its messages. serve runs
# until the checks of /proc are done and then ends with SIGINT: with a frame
# count, a slow guest once saw it end between reading the thread's policy
# and its affinity
bg serve sh -c 'exec "$@" >"$0"' "$DIR/serve.json" "$DMAPIPE" serve --socket "$SOCK" \
	--size 320x240 --fps 30 --realtime=33 --cpu "$CPU" $MLOCK \
	--require-realtime --wait-consumers 1 --json
SERVE=$LAST
wait_socket "$SOCK"
"$DMAPIPE" record "$SOCK" -o "$DIR/a.rec" --realtime=31 --cpu 0 $MLOCK --require-realtime \
	-q --json >"$DIR/record.json" 2>"$DIR/record.log" &
REC=$!
PIDS="$PIDS $REC"
# while both run: the loops' threads as /proc sees them
i=0
got=""
while [ $i -lt 100 ]; do
	# field 40 rt_priority, 41 policy (1 = SCHED_FIFO) of the main thread
	s=$(sed 's/.*) //' "/proc/$SERVE/task/$SERVE/stat" 2>/dev/null | awk '{print $38, $39}')
	if [ "$s" = "33 1" ]; then
		got=1
		break
	fi
	i=$((i + 1))
	sleep 0.05
done
[ -n "$got" ] || fail "serve's loop thread is not SCHED_FIFO 33 (rt_priority, policy: $s)"
grep -q "^Cpus_allowed_list:[[:space:]]*$CPU\$" "/proc/$SERVE/task/$SERVE/status" ||
	fail "serve's loop thread is not pinned to CPU $CPU: $(grep Cpus_allowed_list \
		"/proc/$SERVE/task/$SERVE/status")"
for t in /proc/"$SERVE"/task/*; do
	[ "$t" = "/proc/$SERVE/task/$SERVE" ] && continue
	p=$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $39}')
	[ -z "$p" ] || [ "$p" = 0 ] || fail "serve's thread $t has policy $p, not SCHED_OTHER"
done
if [ -n "$MLOCK" ]; then
	lck=$(sed -n 's/^VmLck:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVE/status")
	[ "${lck:-0}" -gt 0 ] || fail "serve --mlock: VmLck is ${lck:-unknown}"
fi
ok "serve's loop thread: SCHED_FIFO 33 on CPU $CPU, its other threads SCHED_OTHER${MLOCK:+, memory locked}"
kill -INT "$SERVE"
wait_ok "$REC" "record with --require-realtime"
wait_ok "$SERVE" "serve with --require-realtime"
jcheck "$DIR/record.json" "d['result'] == 'ok' and d['realtime']['sched_fifo'] and \
d['realtime']['priority'] == 31 and d['realtime']['pinned'] and d['realtime']['cpu'] == 0 and \
d['realtime']['refused'] is None and d['frames_recorded'] > 0"
jcheck "$DIR/serve.json" "d['realtime']['sched_fifo'] and d['realtime']['priority'] == 33 and \
d['realtime']['pinned'] and d['frames_queued'] > 0"
if [ -n "$MLOCK" ]; then
	jcheck "$DIR/record.json" "d['realtime']['mlock'] and d['realtime']['locked_bytes'] > 0"
fi
"$DMAPIPE" record --check "$DIR/a.rec" >"$DIR/check.log" 2>&1 || fail "the recording made at SCHED_FIFO does not verify"
ok "record: SCHED_FIFO 31 on CPU 0 reported in --json, its recording verifies"

# --- refused, not insisted on: warnings naming the limits, and a recording --
# no CAP_SYS_NICE, no CAP_IPC_LOCK, in the bounding set or inherited
unpriv() {
	setpriv --bounding-set=-sys_nice,-ipc_lock --inh-caps=-sys_nice,-ipc_lock -- \
		prlimit --rtprio=0 --memlock=65536 -- "$@"
}
bg serve2 "$DMAPIPE" serve --socket "$SOCK" --size 320x240 --fps 30 --frames 60 --wait-consumers 1
SERVE=$LAST
wait_socket "$SOCK"
unpriv "$DMAPIPE" record "$SOCK" -o "$DIR/b.rec" --realtime $MLOCK --cpu 1000 -q --json \
	>"$DIR/b.json" 2>"$DIR/b.log" || fail "record refused real-time settings and failed without --require-realtime"
wait_ok "$SERVE" serve
grep -q "warning: --realtime=40: SCHED_FIFO 40 is not permitted: RLIMIT_RTPRIO is 0 and the process lacks CAP_SYS_NICE" \
	"$DIR/b.log" || fail "no warning naming RLIMIT_RTPRIO: $(cat "$DIR/b.log")"
if [ -n "$MLOCK" ]; then
	grep -q "warning: --mlock: cannot lock the process's memory: RLIMIT_MEMLOCK is 64 KiB and the process lacks CAP_IPC_LOCK" \
		"$DIR/b.log" || fail "no warning naming RLIMIT_MEMLOCK: $(cat "$DIR/b.log")"
fi
grep -q "warning: --cpu 1000: not a CPU this process may run on" "$DIR/b.log" ||
	fail "no warning for a CPU that is not there: $(cat "$DIR/b.log")"
jcheck "$DIR/b.json" "d['result'] == 'ok' and not d['realtime']['sched_fifo'] and \
not d['realtime']['mlock'] and not d['realtime']['pinned'] and \
d['realtime']['refused'].startswith('--cpu 1000') and d['frames_recorded'] > 0"
ok "refused without --require-realtime: a warning naming each limit, the recording made"

# --- refused and insisted on: exit 1, nothing written, an old file kept ------
echo "an old file" >"$DIR/keep.rec"
bg serve3 "$DMAPIPE" serve --socket "$SOCK" --size 320x240 --fps 30 --frames 600
SERVE=$LAST
wait_socket "$SOCK"
unpriv "$DMAPIPE" record "$SOCK" -o "$DIR/keep.rec" --force --realtime=20 \
	--require-realtime -q --json >"$DIR/c.json" 2>"$DIR/c.log"
status=$?
[ $status -eq 1 ] || fail "record --require-realtime refused: exit $status, expected 1"
jcheck "$DIR/c.json" "d['result'] == 'error' and d['error']['code'] == 'permission' and \
'RLIMIT_RTPRIO is 0' in d['error']['message']"
[ "$(grep -c 'error:' "$DIR/c.log")" = 1 ] || fail "not one error line: $(cat "$DIR/c.log")"
[ "$(cat "$DIR/keep.rec")" = "an old file" ] || fail "the refused recorder touched the old file"
ls "$DIR" | grep -q 'keep.rec.partial' && fail "the refused recorder left a partial file"
ok "refused with --require-realtime: exit 1, code permission, one error line, old file kept"

# a CPU the process may not run on, insisted on: the code says so
"$DMAPIPE" record "$SOCK" -o "$DIR/e.rec" --cpu 1000 --require-realtime -q --json \
	>"$DIR/e.json" 2>"$DIR/e.log"
status=$?
[ $status -eq 1 ] || fail "record --cpu 1000 --require-realtime: exit $status, expected 1"
jcheck "$DIR/e.json" "d['result'] == 'error' and d['error']['code'] == 'unsupported' and \
d['error']['message'].startswith('--cpu 1000: not a CPU this process may run on')"
[ -e "$DIR/e.rec" ] && fail "the refused recorder wrote e.rec"
ok "a CPU it may not run on, with --require-realtime: exit 1, code unsupported, nothing written"

# --- bad values ---------------------------------------------------------------
for bad in --realtime=0 --realtime=100 --realtime=x "--cpu -1" "--cpu 5000" "--cpu one"; do
	# shellcheck disable=SC2086 # the option and its value are two words
	expect_status 2 record "$SOCK" -o "$DIR/d.rec" $bad
	grep -q "wants a whole number" "$DIR/err.log" ||
		fail "'$bad': no reason given: $(cat "$DIR/err.log")"
done
for cmd in serve encode run; do
	expect_status 2 $cmd --realtime=0
	grep -q "dmapipe $cmd: error: --realtime wants a whole number" "$DIR/err.log" ||
		fail "$cmd --realtime=0: $(cat "$DIR/err.log")"
done
ok "out-of-range priorities and CPUs are usage errors in record, serve, encode and run"
kill "$SERVE" 2>/dev/null
exit 0

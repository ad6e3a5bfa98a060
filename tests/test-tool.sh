#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The dmapipe command line: serve and consume as separate processes with
# every byte verified, JSON output parsed and checked, bad input refused
# with exit status 2, info/stats/demo, and a small bench run.
#
# Usage: test-tool.sh PATH-TO-dmapipe [bench|no-bench]
# (no-bench: the build has no dmapipe-bench, -Dbench=disabled)

set -u

DMAPIPE=${1:?usage: test-tool.sh PATH-TO-dmapipe [bench|no-bench]}
BENCH=${2:-bench}
# `dmapipe bench` runs the dmapipe-bench of this build tree, and passes it
# this dmapipe: nothing from the caller's environment may point elsewhere
unset DMAPIPE_BENCH DMAPIPE_TOOL
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: python3 is needed to parse the JSON output"
	exit 77
fi

# shellcheck source=testlib.sh
TAG=tool
. "$(dirname "$0")/testlib.sh"

# expect_usage_error KEYWORD ARGS...: exit status 2 and KEYWORD in stderr.
expect_usage_error() {
	keyword=$1
	shift
	"$DMAPIPE" "$@" >"$DIR/usage.out" 2>"$DIR/usage.err"
	status=$?
	[ $status -eq 2 ] || fail "'dmapipe $*' exited $status, expected 2"
	grep -qi -- "$keyword" "$DIR/usage.err" ||
		fail "'dmapipe $*': no '$keyword' in: $(cat "$DIR/usage.err")"
	[ -s "$DIR/usage.out" ] && fail "'dmapipe $*' printed to stdout on a usage error"
	ok "usage error: dmapipe $*"
}

# ---- help and version ---------------------------------------------------

"$DMAPIPE" --help >"$DIR/help.out" || fail "--help"
grep -q serve "$DIR/help.out" || fail "--help does not list serve"
"$DMAPIPE" --version | grep -q dmapipe || fail "--version"
bench_cmd=bench
[ "$BENCH" = bench ] || bench_cmd=
for cmd in serve consume info stats demo probe $bench_cmd; do
	"$DMAPIPE" $cmd --help >"$DIR/help.out" || fail "$cmd --help"
	grep -q "Usage: dmapipe $cmd" "$DIR/help.out" || fail "$cmd --help: no usage line"
done
ok "help"

# ---- bad command lines --------------------------------------------------

S="$DIR/never.sock"
expect_usage_error "unknown command" frobnicate
expect_usage_error "unknown option" serve --socket "$S" --bogus
expect_usage_error "unknown option" consume --socket "$S" --bogus
expect_usage_error "bad size" serve --socket "$S" --size 12x
expect_usage_error "bad size" serve --socket "$S" --size x480
expect_usage_error "range" serve --socket "$S" --size 0x480
expect_usage_error "format" serve --socket "$S" --format NOPE
expect_usage_error "frames" consume --socket "$S" --frames -1
expect_usage_error "frames" serve --socket "$S" --frames 12abc
expect_usage_error "fps" serve --socket "$S" --fps -5
expect_usage_error "needs a value" serve --socket
expect_usage_error "policy" consume --socket "$S" --policy sometimes
expect_usage_error "depth" consume --socket "$S" --policy queue:0
expect_usage_error "verify" consume --socket "$S" --verify most
expect_usage_error "peer" serve --socket "$S" --peer uid:abc
expect_usage_error "allocator" serve --socket "$S" --allocator teapot
for cmd in serve consume; do
	expect_usage_error "--busy-poll wants a whole number from 0 to 100000" \
		$cmd --socket "$S" --busy-poll -1
	expect_usage_error "--busy-poll wants" $cmd --socket "$S" --busy-poll x
	expect_usage_error "--busy-poll wants" $cmd --socket "$S" --busy-poll 100001
	expect_usage_error "--busy-poll wants" $cmd --socket "$S" --busy-poll 30us
	expect_usage_error "needs a value" $cmd --socket "$S" --busy-poll
done
expect_usage_error "unexpected argument" consume --socket "$S" extra
expect_usage_error "consumers" demo --consumers 0
if [ "$BENCH" = bench ]; then
	expect_usage_error "consumers" bench --consumers 1,x
	expect_usage_error "storage-max-request" bench --storage-max-request 3
	expect_usage_error "storage-max-request" bench --storage-max-request x
	for n in 0 10 x; do
		expect_usage_error "--latency-pairs wants a whole number from 1 to 9" \
			bench --latency-pairs $n
		[ "$(grep -c "error:" "$DIR/usage.err")" = 1 ] ||
			fail "bench --latency-pairs $n: not one error: $(cat "$DIR/usage.err")"
	done
fi
[ -e "$S" ] && fail "a usage error created the socket"

# ---- info ---------------------------------------------------------------

"$DMAPIPE" info --json >"$DIR/info.json" 2>"$DIR/info.log" || fail "info --json"
jcheck "$DIR/info.json" 'd["version"] and any(a["name"] == "memfd" and a["available"] for a in d["allocators"])'
jcheck "$DIR/info.json" 'all(a["memory"] in ("dma-buf", "memfd (not a dma-buf)") for a in d["allocators"])'
jcheck "$DIR/info.json" 'isinstance(d["kernel_features"]["dma_heap"], list) and d["kernel"]'
jcheck "$DIR/info.json" 'all(isinstance(d["devices"][k], list) for k in ("v4l2", "drm", "dma_heaps"))'
jcheck "$DIR/info.json" 'd["devices"]["discovery"] in ("libudev", "sysfs") and "udmabuf" in d["devices"] and "dmapipe" in d["devices"]'
# the device lists agree with the device nodes present (none on a bare host)
jcheck "$DIR/info.json" 'sorted(v["path"] for v in d["devices"]["v4l2"]) == sorted(d["kernel_features"]["video"])'
jcheck "$DIR/info.json" 'sorted(h["path"] for h in d["devices"]["dma_heaps"]) == sorted(d["kernel_features"]["dma_heap"])'
"$DMAPIPE" info --json -v --probe-export >"$DIR/info.json" 2>"$DIR/info.log" ||
	fail "info --json -v --probe-export"
jcheck "$DIR/info.json" 'isinstance(d["devices"]["v4l2"], list)'
expect_usage_error "unknown option" info --bogus
expect_usage_error "unexpected argument" info extra
"$DMAPIPE" info >"$DIR/info.out" 2>&1 || fail "info"
grep -q "allocators" "$DIR/info.out" || fail "info: no allocator list"
grep -q "V4L2 devices" "$DIR/info.out" || fail "info: no V4L2 device table"
grep -q "DRM render nodes" "$DIR/info.out" || fail "info: no DRM render node table"
ok "info"

# ---- serve + consume, every byte verified ----------------------------------

# run_pair NAME FRAMES SERVE-ARGS -- CONSUME-ARGS
run_pair() {
	name=$1
	frames=$2
	shift 2
	sargs=""
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		sargs="$sargs $1"
		shift
	done
	shift
	sock="$DIR/$name.sock"
	# shellcheck disable=SC2086
	"$DMAPIPE" serve --socket "$sock" --frames "$frames" --wait-consumers 1 \
		--wait-timeout 20000 --quiet --json $sargs \
		>"$DIR/$name-serve.json" 2>"$DIR/$name-serve.log" &
	spid=$!
	PIDS="$PIDS $spid"
	"$DMAPIPE" consume --socket "$sock" --timeout 20000 --quiet --json "$@" \
		>"$DIR/$name-consume.json" 2>"$DIR/$name-consume.log"
	cstatus=$?
	wait $spid
	sstatus=$?
	[ $cstatus -eq 0 ] || fail "$name: consume exited $cstatus"
	[ $sstatus -eq 0 ] || fail "$name: serve exited $sstatus"
	[ -e "$sock" ] && fail "$name: serve left its socket behind"
	return 0
}

run_pair nv12 120 --size 320x240 --format NV12 --fps 0 -- \
	--verify full --policy block:4
jcheck "$DIR/nv12-consume.json" 'd["result"] == "ok" and d["end"] == "eos"'
jcheck "$DIR/nv12-consume.json" 'd["frames_received"] == 120 and d["frames_verified"] == 120'
jcheck "$DIR/nv12-consume.json" 'd["frames_failed"] == 0 and d["frames_dropped"] == 0'
jcheck "$DIR/nv12-consume.json" 'd["bytes_copied"] == 0 and d["fourcc"] == "NV12" and d["width"] == 320'
jcheck "$DIR/nv12-consume.json" 'd["sequence_first"] == 0 and d["sequence_last"] == 119'
jcheck "$DIR/nv12-consume.json" 'd["latency_p50_us"] > 0 and d["latency_p99_us"] >= d["latency_p50_us"]'
jcheck "$DIR/nv12-serve.json" 'd["result"] == "ok" and d["frames_queued"] == 120'
jcheck "$DIR/nv12-serve.json" 'd["bytes_copied"] == 0 and d["consumers_total"] == 1'
grep -q "allocator:" "$DIR/nv12-serve.log" || fail "serve does not announce its allocator"
jcheck "$DIR/nv12-consume.json" 'd["busy_poll_us"] == 30'
jcheck "$DIR/nv12-serve.json" 'd["busy_poll_us"] == 30'
ok "serve + consume NV12 320x240, verify full"

# Busy polling off on both sides, and at its largest: the same stream.
for us in 0 100000; do
	run_pair "busy-poll-$us" 120 --size 320x240 --format NV12 --fps 0 --busy-poll $us -- \
		--verify full --policy block:4 --busy-poll $us
	jcheck "$DIR/busy-poll-$us-consume.json" 'd["result"] == "ok" and d["end"] == "eos"'
	jcheck "$DIR/busy-poll-$us-consume.json" 'd["frames_received"] == 120 and d["frames_verified"] == 120'
	jcheck "$DIR/busy-poll-$us-consume.json" 'd["frames_failed"] == 0 and d["frames_dropped"] == 0'
	jcheck "$DIR/busy-poll-$us-consume.json" "d[\"busy_poll_us\"] == $us"
	jcheck "$DIR/busy-poll-$us-serve.json" "d[\"frames_queued\"] == 120 and d[\"busy_poll_us\"] == $us"
	ok "serve + consume with --busy-poll $us on both sides, verify full"
done

# 120 fps with 8 frames of slack: a consumer the machine stops for longer
# than 66 ms (283 ms seen at load 10) has frames dropped by its policy, and
# counted; what must hold is that every frame is received and verified or
# counted as dropped, up to the last one
run_pair xrgb 60 --size 640x480 --format XRGB8888 --fps 120 -- \
	--verify full --policy queue:8 --frames 60
jcheck "$DIR/xrgb-consume.json" 'd["result"] == "ok" and d["frames_received"] + d["frames_dropped"] == 60'
jcheck "$DIR/xrgb-consume.json" 'd["frames_received"] > 0 and d["sequence_last"] == 59'
jcheck "$DIR/xrgb-consume.json" 'd["frames_verified"] == d["frames_received"] and d["frames_failed"] == 0'
jcheck "$DIR/xrgb-consume.json" 'd["bytes_copied"] == 0 and d["fourcc"] == "XRGB8888" and d["height"] == 480'
# paced: never ahead of its clock, however late a loaded machine wakes it
# (59 periods from the first frame to the last; the JSON rounds to 6 digits)
jcheck "$DIR/xrgb-serve.json" 'd["frames_queued"] == 60 and d["elapsed_s"] >= 59 / 120 - 1e-5'
ok "serve + consume XRGB8888 640x480 at 120 fps, verify full"

run_pair stamp 50 --size 64x64 --format YUYV --fps 0 -- \
	--verify stamp --policy block:2
jcheck "$DIR/stamp-consume.json" 'd["verify"] == "stamp" and d["frames_verified"] == 50'
ok "verify stamp"

run_pair none 50 --size 64x64 --format NV12 --fps 0 --predrawn -- \
	--verify none --policy block:4
jcheck "$DIR/none-consume.json" 'd["frames_received"] == 50 and d["frames_verified"] == 0'
ok "verify none, predrawn"

# The default (--verify auto): frames the producer marks as the pattern are
# verified, others (a predrawn stream: buffer k holds pattern frame k, not the
# frame its sequence names, as a camera's frames are no pattern) are counted,
# not failed; --verify full checks them anyway, and fails.
run_pair auto 50 --size 64x64 --format NV12 --fps 0 -- --policy block:4
jcheck "$DIR/auto-consume.json" 'd["verify"] == "auto" and d["frames_verified"] == 50 and d["frames_not_checked"] == 0'
run_pair autonone 50 --size 64x64 --format NV12 --fps 0 --predrawn -- --policy block:4
jcheck "$DIR/autonone-consume.json" 'd["result"] == "ok" and d["frames_received"] == 50'
jcheck "$DIR/autonone-consume.json" 'd["frames_verified"] == 0 and d["frames_failed"] == 0 and d["frames_not_checked"] == 50'
"$DMAPIPE" serve --socket "$DIR/full.sock" --frames 20 --size 64x64 --fps 0 --predrawn \
	--wait-consumers 1 --quiet >"$DIR/full-serve.log" 2>&1 &
PIDS="$PIDS $!"
"$DMAPIPE" consume --socket "$DIR/full.sock" --verify full --policy block:4 --quiet \
	>"$DIR/full-consume.out" 2>&1
[ $? -eq 1 ] || fail "--verify full passed frames that are not the pattern"
ok "verify auto: the pattern verified, a stream that is not the pattern not failed; full fails it"

# A slow consumer with latest-only: drops are seen as sequence gaps, and
# every frame it does get is intact.
run_pair slow 40 --size 160x120 --format NV12 --fps 100 -- \
	--verify full --policy latest --hold-ms 60
jcheck "$DIR/slow-consume.json" 'd["frames_failed"] == 0 and d["frames_received"] == d["frames_verified"]'
jcheck "$DIR/slow-consume.json" 'd["frames_dropped"] > 0 and d["frames_received"] + d["frames_dropped"] <= 40'
jcheck "$DIR/slow-serve.json" 'd["frames_dropped"] > 0'
ok "slow consumer: drops counted, frames intact"

# The end of a stream: the frames queued for a slow consumer reach it
# before EOS, and serve's rate counts the streaming, not the wait for the
# consumer to finish (10 frames at 30 fps take 0.3 s; the consumer keeps
# each frame a second, so waiting for it would take seconds more).
run_pair drain 10 --size 160x120 --format NV12 --fps 30 -- \
	--verify full --policy latest --hold-ms 1000
jcheck "$DIR/drain-consume.json" 'd["result"] == "ok" and d["end"] == "eos" and d["frames_failed"] == 0'
jcheck "$DIR/drain-consume.json" 'd["sequence_last"] == 9'
jcheck "$DIR/drain-serve.json" 'd["result"] == "ok" and d["frames_queued"] == 10 and d["lease_timeouts"] == 0'
jcheck "$DIR/drain-serve.json" 'd["elapsed_s"] < 1.0 and d["fps"] > 15'
ok "serve: the last frame reaches a slow consumer before EOS; the rate leaves the drain out"

# Human output.
sock="$DIR/human.sock"
"$DMAPIPE" serve --socket "$sock" --size 64x64 --frames 10 --fps 0 --wait-consumers 1 \
	>"$DIR/human-serve.out" 2>"$DIR/human-serve.log" &
spid=$!
PIDS="$PIDS $spid"
"$DMAPIPE" consume --socket "$sock" --policy block:4 >"$DIR/human-consume.out" \
	2>"$DIR/human-consume.log" || fail "human consume"
wait $spid || fail "human serve"
grep -q "10 received, 10 verified" "$DIR/human-consume.out" || fail "consume human summary"
grep -q "copied" "$DIR/human-serve.out" || fail "serve human summary"
ok "human output"

# ---- stats against a running producer; SIGTERM ends it cleanly --------------

sock="$DIR/stats.sock"
"$DMAPIPE" serve --socket "$sock" --size 64x64 --fps 50 --frames 0 --quiet --json \
	>"$DIR/stats-serve.json" 2>"$DIR/stats-serve.log" &
spid=$!
PIDS="$PIDS $spid"
wait_socket "$sock"
"$DMAPIPE" consume --socket "$sock" --name statcheck --policy queue:3 --quiet --json \
	>"$DIR/stats-consume.json" 2>"$DIR/stats-consume.log" &
cpid=$!
PIDS="$PIDS $cpid"
i=0
while :; do
	"$DMAPIPE" stats --socket "$sock" --json >"$DIR/stats.json" 2>"$DIR/stats.log" ||
		fail "stats --json"
	python3 - "$DIR/stats.json" <<'EOF' && break
import json, sys
d = json.load(open(sys.argv[1]))
c = [x for x in d["consumers"] if x["name"] == "statcheck"]
sys.exit(0 if c and c[0]["frames_sent"] > 0 else 1)
EOF
	i=$((i + 1))
	[ $i -gt 100 ] && fail "stats never showed the consumer"
	sleep 0.05
done
jcheck "$DIR/stats.json" 'd["consumers_connected"] == 1 and d["fourcc"] == "NV12" and d["bytes_copied"] == 0'
jcheck "$DIR/stats.json" 'd["consumers"][0]["policy"] == "queue" and d["consumers"][0]["queue_depth"] == 3'
"$DMAPIPE" stats --socket "$sock" >"$DIR/stats.out" 2>&1 || fail "stats"
grep -q statcheck "$DIR/stats.out" || fail "stats table does not show the consumer"
ok "stats"

kill -TERM $spid
wait $spid || fail "serve did not exit 0 after SIGTERM"
jcheck "$DIR/stats-serve.json" 'd["result"] == "interrupted" and d["frames_queued"] > 0'
wait $cpid || fail "consumer did not end cleanly at end of stream"
jcheck "$DIR/stats-consume.json" 'd["end"] == "eos" and d["frames_failed"] == 0 and d["frames_verified"] > 0'
[ -e "$sock" ] && fail "serve left its socket behind after SIGTERM"
"$DMAPIPE" stats --socket "$sock" --json >/dev/null 2>&1 && fail "stats on a dead socket succeeded"
ok "SIGTERM: end of stream, summary, socket removed"

# ---- consume with no producer --------------------------------------------

"$DMAPIPE" consume --socket "$DIR/nobody.sock" --timeout 200 --quiet \
	>/dev/null 2>"$DIR/nobody.log"
[ $? -eq 1 ] || fail "consume without a producer did not exit 1"
ok "consume without a producer"

# ---- demo ------------------------------------------------------------------

"$DMAPIPE" demo --size 320x240 --frames 30 --fps 60 --consumers 2 --json \
	>"$DIR/demo.json" 2>"$DIR/demo.log" || fail "demo --json"
jcheck "$DIR/demo.json" 'd["result"] == "ok" and d["frames_failed"] == 0 and d["bytes_copied"] == 0'
jcheck "$DIR/demo.json" 'd["frames_verified"] > 0 and d["consumers"] == 2 and len(d["processes"]) == 3'
"$DMAPIPE" demo --size 160x120 --frames 20 --fps 100 >"$DIR/demo.out" 2>"$DIR/demo.log" ||
	fail "demo"
grep -q "frames crossed" "$DIR/demo.out" || fail "demo: no result line"
grep -q "PASS" "$DIR/demo.out" || fail "demo: no PASS"
ok "demo"

# ---- serve's resource limits, and an error code newer than this build ---------

S="$DIR/limits.sock"
expect_usage_error "--max-handshakes wants" serve --socket "$S" --max-handshakes 0
expect_usage_error "--max-monitors wants" serve --socket "$S" --max-monitors 2000
expect_usage_error "--max-buffers wants" serve --socket "$S" --max-buffers 257
expect_usage_error "--max-in-flight wants" serve --socket "$S" --max-in-flight 257
expect_usage_error "--pool-budget wants" serve --socket "$S" --pool-budget 0
expect_usage_error "--pool-budget wants" serve --socket "$S" --pool-budget 1G
# a budget that cannot hold the three buffers a stream needs: a clear error
"$DMAPIPE" serve --socket "$S" --size 640x480 --pool-budget 1000000 --frames 1 \
	>"$DIR/budget.out" 2>"$DIR/budget.err"
[ $? -eq 1 ] || fail "serve with a pool budget too small did not exit 1"
grep -q "over the pool budget" "$DIR/budget.err" ||
	fail "serve with a pool budget too small: unclear: $(cat "$DIR/budget.err")"
ok "serve: --pool-budget too small for the format: $(grep -m1 "pool budget" "$DIR/budget.err")"
run_pair limits 30 --size 64x64 --fps 0 --max-handshakes 2 --max-monitors 1 \
	--max-buffers 8 --max-in-flight 6 --pool-budget 1000000 -- --policy block:4 --in-flight 6
jcheck "$DIR/limits-serve.json" 'd["result"] == "ok" and d["leases_revoked"] == 0 and d["accept_failures"] == 0'
jcheck "$DIR/limits-consume.json" 'd["result"] == "ok" and d["frames_verified"] == 30'
ok "serve with --max-handshakes, --max-monitors, --max-buffers, --max-in-flight 6, --pool-budget"

# A producer newer than this build ends the stream with ERROR code 99:
# consume names it by its number (docs/PROTOCOL.md section 7).
S="@dmapipe-tool-newer-$$"
python3 - "$S" >"$DIR/newer.log" 2>&1 <<'EOF_PY' &
import socket, struct, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind("\0" + path[1:])
s.listen(1)
s.settimeout(20)
c, _ = s.accept()
c.recv(4096)  # the consumer's HELLO
name = b"newer".ljust(32, b"\0")
c.send(struct.pack("<II I HH IIIIIIII", 1, 80, 0x50504d44, 1, 1, 1, 0, 1, 1, 2, 5000, 0, 0) + name)
c.send(struct.pack("<II II", 8, 144, 99, 0) + b"a reason from the future".ljust(128, b"\0"))
c.recv(4096)
EOF_PY
ppid=$!
PIDS="$PIDS $ppid"
i=0
until "$DMAPIPE" consume --socket "$S" --timeout 5000 --quiet >/dev/null 2>"$DIR/newer.err"; do
	grep -q "producer error" "$DIR/newer.err" && break
	i=$((i + 1))
	[ $i -gt 50 ] && fail "consume never reached the fake producer: $(cat "$DIR/newer.err")"
	sleep 0.1
done
wait $ppid
grep -q "producer error unknown error 99: a reason from the future" "$DIR/newer.err" ||
	fail "an unknown error code was not printed with its number: $(cat "$DIR/newer.err")"
ok "consume: $(grep -m1 "producer error" "$DIR/newer.err")"

# ---- bench: the launcher -----------------------------------------------------
# `dmapipe bench` execs dmapipe-bench with its own arguments and its own path
# in DMAPIPE_TOOL (a stand-in bench shows both); without the program it
# says so in one line naming the meson option, and exits 1.

cat >"$DIR/fakebench" <<'FAKE'
#!/bin/sh
printf '%s\n' "$DMAPIPE_TOOL" "$@" >"$FAKEBENCH_OUT"
exit 7
FAKE
chmod +x "$DIR/fakebench"
FAKEBENCH_OUT="$DIR/fakebench.out" DMAPIPE_BENCH="$DIR/fakebench" \
	"$DMAPIPE" bench --json -c '1, 8' --output "$DIR/a b.md" >/dev/null 2>&1
status=$?
[ $status -eq 7 ] || fail "dmapipe bench: the bench's exit status 7 came back as $status"
printf '%s\n' "$(readlink -f "$DMAPIPE")" --json -c '1, 8' --output "$DIR/a b.md" \
	>"$DIR/fakebench.want"
cmp -s "$DIR/fakebench.want" "$DIR/fakebench.out" ||
	fail "dmapipe bench passed: $(cat "$DIR/fakebench.out"); expected: $(cat "$DIR/fakebench.want")"
ok "bench: the launcher passes the arguments, DMAPIPE_TOOL and the exit status"

# expect_no_bench: `dmapipe bench` (environment given before) has no program to run
expect_no_bench() {
	"$@" "$DMAPIPE" bench --help >"$DIR/nobench.out" 2>"$DIR/nobench.err"
	status=$?
	[ $status -eq 1 ] || fail "dmapipe bench without dmapipe-bench exited $status, expected 1"
	[ -s "$DIR/nobench.out" ] && fail "dmapipe bench without dmapipe-bench printed to stdout"
	[ "$(wc -l <"$DIR/nobench.err")" -eq 1 ] ||
		fail "dmapipe bench without dmapipe-bench: not one line: $(cat "$DIR/nobench.err")"
	grep -q -- "dmapipe-bench not found" "$DIR/nobench.err" && grep -q -- "-Dbench=enabled" "$DIR/nobench.err" ||
		fail "dmapipe bench without dmapipe-bench: unclear: $(cat "$DIR/nobench.err")"
}
expect_no_bench env DMAPIPE_BENCH=/nonexistent
grep -q "DMAPIPE_BENCH=/nonexistent" "$DIR/nobench.err" ||
	fail "dmapipe bench does not name the DMAPIPE_BENCH it tried: $(cat "$DIR/nobench.err")"
ok "bench: DMAPIPE_BENCH=/nonexistent: $(cat "$DIR/nobench.err")"

if [ "$BENCH" != bench ]; then
	expect_no_bench env
	ok "bench: not built: $(cat "$DIR/nobench.err")"
	echo "SKIP: the bench runs below: this build has no dmapipe-bench (-Dbench=disabled)"
	echo "all tool tests passed"
	exit 0
fi

# ---- bench, small -----------------------------------------------------------
# Every setting runs and copies nothing, the no-busy-polling reference row is
# there (serve and consume took --busy-poll 0), and with fio and O_DIRECT
# the storage pairs give one ratio each; no timing is asserted.

"$DMAPIPE" bench -c 1 -n 2000 -r 1 --latency-frames 10 --latency-pairs 2 --size 640x480 \
	--no-gst --storage-size 512 --storage-repeat 2 --json >"$DIR/bench.json" \
	2>"$DIR/bench.log" || fail "bench --json"
jcheck "$DIR/bench.json" '[(r["mode"], r["setting"], r["in_flight"], r["queue_depth"], r["busy_poll"]) for r in d["dmapipe"]] == [("unthrottled", "defaults", 2, 4, True), ("unthrottled", "pipelined", 16, 32, True), ("unthrottled", "no-busy-poll", 2, 4, False), ("paced", "paced", 2, 4, True)]'
# the pool: deeper pipelining has its 32 buffers from the start (the most it
# may have); the others start at 4 and may grow; its memory is whole buffers
# of at least the frame's pixels
jcheck "$DIR/bench.json" '[r["buffers"] for r in d["dmapipe"]] == [4, 32, 4, 4] and all(r["buffers"] <= r["pool_buffers"] <= 32 for r in d["dmapipe"]) and d["dmapipe"][1]["pool_buffers"] == 32'
jcheck "$DIR/bench.json" 'all(r["pool_bytes"] % r["pool_buffers"] == 0 and r["pool_bytes"] >= r["pool_buffers"] * d["width"] * d["height"] * 3 // 2 for r in d["dmapipe"])'
jcheck "$DIR/bench.json" 'all(r["ok"] and r["bytes_copied"] == 0 for r in d["dmapipe"])'
# the paced runs alternate with socket ping-pong runs, each side first in
# turn; the ratios are the medians of the pairs', and the kept ping-pong run
# (the pair with the median CPU ratio) is in socket_pingpong beside its count
jcheck "$DIR/bench.json" '[(p["consumers"], p["ok"], p["pairs"], [e["dmapipe_first"] for e in p["each"]]) for p in d["paced_pairs"]] == [(1, True, 2, [False, True])]'
jcheck "$DIR/bench.json" 'all(p[k + "_min"] <= p[k + "_median"] <= p[k + "_max"] and min(e[k] for e in p["each"]) == p[k + "_min"] and max(e[k] for e in p["each"]) == p[k + "_max"] for p in d["paced_pairs"] for k in ("cpu_ratio", "p50_ratio", "p99_ratio"))'
jcheck "$DIR/bench.json" '[(p["mode"], p["pair_consumers"], p["ok"]) for p in d["socket_pingpong"]] == [("unthrottled", None, True), ("paced", 1, True)]'
ok "bench: the paced runs in 2 alternating pairs with the socket ping-pong, ratios pair by pair"
jcheck "$DIR/bench.json" 'not d["storage"]["ran"] and d["storage"]["skipped"] or all(p["pairs"] == 2 and 0 < p["min"] <= p["median"] <= p["max"] for p in (d["storage"]["recorder_of_fio_pairs"], d["storage"]["replay_of_fio_pairs"]))'
# direct I/O on both sides: the sampler (its own process) saw no frame in the
# page cache; opening a recording reads its superblock and index through it
jcheck "$DIR/bench.json" 'not d["storage"]["ran"] or all(d["storage"][k]["ok"] and d["storage"][k]["page_cache_peak"] < (1 << 20) for k in ("fio_write", "recorder_direct", "fio_read", "replay"))'
# ... and the sampler does see pages: the buffered recorder keeps tens of MB
# cached while it runs (512 MB take well over one 100 ms sample) and drops
# them all when it finishes, so its peak can only come from the sampler
jcheck "$DIR/bench.json" 'not d["storage"]["ran"] or (d["storage"]["recorder_buffered"]["page_cache_peak"] > (8 << 20) and d["storage"]["recorder_buffered"]["page_cache_end"] < (1 << 20))'
ok "bench: $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["storage"]; print("storage pairs measured" if s["ran"] else "storage skipped: " + s["skipped"])' "$DIR/bench.json")"

# One consumer count: the producer's cost per extra consumer needs two and
# says so; --no-gst: both shm paths say why they were not measured
jcheck "$DIR/bench.json" '[(e["setting"], e["ok"], e["consumers_low"], e["consumers_high"], e["met"]) for e in d["producer_per_extra_consumer"]] == [("defaults", False, 1, 1, False), ("pipelined", False, 1, 1, False), ("no-busy-poll", False, 1, 1, False)] and all("two consumer counts" in e["error"] and e["per_extra_consumer_ns"] is None for e in d["producer_per_extra_consumer"])'
jcheck "$DIR/bench.json" '[(g["readers"], g["path"], g["measured"], g["status"]) for g in d["gstreamer_shm"] + d["gstreamer_shm_copy"]] == [(1, "no-copy", False, "not measured: --no-gst"), (1, "copy", False, "not measured: --no-gst")]'

# Two consumer counts and GStreamer, small: the producer's cost per extra
# consumer is the difference of the two runs' producer CPU per frame over
# the counts' difference, held against two cache-line transfers; shm's copy
# path runs beside its no-copy path (or says why not), each with its ratio
# to the handoff, and the Targets table judges all three.
"$DMAPIPE" bench -c 2,1 -n 2000 -r 1 --latency-frames 5 --latency-pairs 1 --memcpy-runs 1 \
	--size 640x480 --gst-frames 30 --gst-probe 0 --no-storage --json \
	--output "$DIR/bench-two.md" >"$DIR/bench-two.json" 2>"$DIR/bench-two.log" ||
	fail "bench -c 2,1 with GStreamer: $(tail -3 "$DIR/bench-two.log")"
jcheck "$DIR/bench-two.json" '[(e["setting"], e["ok"], e["consumers_low"], e["consumers_high"]) for e in d["producer_per_extra_consumer"]] == [("defaults", True, 1, 2), ("pipelined", True, 1, 2), ("no-busy-poll", True, 1, 2)]'
# the JSON prints 6 significant digits: the inputs' rounding (up to 5e-6 of
# each) counts too, which matters when the two are close (no busy polling)
jcheck "$DIR/bench-two.json" 'all(abs(e["per_extra_consumer_ns"] - (e["producer_per_frame_high_ns"] - e["producer_per_frame_low_ns"]) / (e["consumers_high"] - e["consumers_low"])) < 1e-3 * max(1, abs(e["per_extra_consumer_ns"])) + 1e-5 * (e["producer_per_frame_high_ns"] + e["producer_per_frame_low_ns"]) / (e["consumers_high"] - e["consumers_low"]) and e["producer_per_frame_low_ns"] > 0 and e["producer_per_frame_high_ns"] > 0 for e in d["producer_per_extra_consumer"])'
jcheck "$DIR/bench-two.json" 'all(r["cpu_producer_per_frame_us"] > 0 for r in d["dmapipe"] if r["mode"] == "unthrottled")'
jcheck "$DIR/bench-two.json" 'all((e["ring_write_ns"] is None) == (not d["cacheline"]["ok"]) and (e["ring_write_ns"] is None or abs(e["ring_write_ns"] - 2 * d["cacheline"]["one_way_ns"]) < 1e-3 * e["ring_write_ns"]) for e in d["producer_per_extra_consumer"])'
jcheck "$DIR/bench-two.json" 'all(e["met"] == (e["ratio_ring_write"] is not None and e["ratio_ring_write"] <= 2) for e in d["producer_per_extra_consumer"])'
grep -Eq "^\| 2 consumers: the producer's cost per extra consumer only a ring write .* \| (met|met only with deeper pipelining|NOT met|not judged) \|$" \
	"$DIR/bench-two.md" || fail "bench -c 2,1: no Targets row for the producer's cost per extra consumer"
ok "bench: the producer's cost per extra consumer: $(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["producer_per_extra_consumer"][0]; print("%.0f ns (ring write %s ns)" % (e["per_extra_consumer_ns"], e["ring_write_ns"]))' "$DIR/bench-two.json")"

jcheck "$DIR/bench-two.json" '[(g["readers"], g["path"]) for g in d["gstreamer_shm"]] == [(2, "no-copy"), (1, "no-copy")] and [(g["readers"], g["path"]) for g in d["gstreamer_shm_copy"]] == [(2, "copy"), (1, "copy")]'
jcheck "$DIR/bench-two.json" 'all(g["measured"] or g["status"].startswith("not measured: ") for g in d["gstreamer_shm"] + d["gstreamer_shm_copy"])'
# the copy path is measured exactly when identity has drop-allocation
jcheck "$DIR/bench-two.json" 'd["gstreamer_copy_unavailable"] is None or all(not g["measured"] and "identity drop-allocation=true is not available" in g["status"] for g in d["gstreamer_shm_copy"])'
jcheck "$DIR/bench-two.json" 'all(abs(g["over_dmapipe"] - g["transport_cpu_per_frame_us"] / r["cpu_per_frame_us"]) < 1e-3 * abs(g["over_dmapipe"]) for gs in (d["gstreamer_shm"], d["gstreamer_shm_copy"]) for g in gs if g["measured"] for r in d["dmapipe"] if r["setting"] == "defaults" and r["consumers"] == g["readers"])'
jcheck "$DIR/bench-two.json" 'all(g["runs_completed"] + g["runs_failed"] == 5 and g["runs_completed"] > 0 for g in d["gstreamer_shm"] + d["gstreamer_shm_copy"] if g["measured"])'
for what in "20x below GStreamer shm's no-copy path" "300x below GStreamer shm's copy transport"; do
	grep -Eq "^\| handoff CPU per frame at least $what, 1 consumer, same run \| .* \| (met|met only with deeper pipelining|NOT met|not judged) \|$" \
		"$DIR/bench-two.md" || fail "bench -c 2,1: no Targets row '$what'"
done
if command -v gst-launch-1.0 >/dev/null && gst-inspect-1.0 identity 2>/dev/null | grep -q drop-allocation; then
	jcheck "$DIR/bench-two.json" 'd["gstreamer_copy_unavailable"] is None and all(g["measured"] for g in d["gstreamer_shm_copy"])'
	grep -q "same pipelines with \`identity" "$DIR/bench-two.md" ||
		fail "bench -c 2,1: the report does not say what the copy path is"
fi
ok "bench: GStreamer shm's copy path beside the no-copy path: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); g=d["gstreamer_shm_copy"][1]; print("%.1f us transport per frame" % g["transport_cpu_per_frame_us"] if g["measured"] else g["status"])' "$DIR/bench-two.json")"

# A GStreamer whose identity has no drop-allocation (before 1.22; here a
# gst-launch-1.0 that says so): the copy path says why it was not measured,
# its Targets row too, and the no-copy path still runs
if gst=$(command -v gst-launch-1.0); then
	mkdir -p "$DIR/oldgst"
	cat >"$DIR/oldgst/gst-launch-1.0" <<EOF
#!/bin/sh
for a; do
	case \$a in drop-allocation=*)
		echo 'WARNING: erroneous pipeline: no property "drop-allocation" in element "identity"'
		exit 1;;
	esac
done
exec "$gst" "\$@"
EOF
	chmod +x "$DIR/oldgst/gst-launch-1.0"
	PATH="$DIR/oldgst:$PATH" "$DMAPIPE" bench -c 1 -n 200 -r 1 --latency-frames 5 \
		--latency-pairs 1 --memcpy-runs 1 --size 640x480 --gst-frames 10 --gst-probe 0 \
		--no-storage --json --output "$DIR/bench-oldgst.md" >"$DIR/bench-oldgst.json" \
		2>"$DIR/bench-oldgst.log" || fail "bench without identity drop-allocation"
	jcheck "$DIR/bench-oldgst.json" 'd["gstreamer_copy_unavailable"] == "no property \"drop-allocation\" in element \"identity\"" and [(g["path"], g["measured"]) for g in d["gstreamer_shm"] + d["gstreamer_shm_copy"]] == [("no-copy", True), ("copy", False)] and "identity drop-allocation=true is not available" in d["gstreamer_shm_copy"][0]["status"]'
	grep -q "^| handoff CPU per frame at least 300x below GStreamer shm's copy transport, 1 consumer, same run | not measured: identity drop-allocation=true is not available: .* | not judged |$" \
		"$DIR/bench-oldgst.md" || fail "bench without identity drop-allocation: the Targets row does not say why"
	ok "bench: without identity drop-allocation the copy path says why and the rest runs"
fi

# The shared-memory floor beside the handoff (bench/cacheline.c): one cache
# line bounced between two pinned processes. Its numbers are positive and
# ordered, one way is half the round trip, and every unthrottled run has its
# ratio to one transfer; with a single CPU allowed it says so instead.
ncpus=$(python3 -c 'import os; print(len(os.sched_getaffinity(0)))')
if [ "$ncpus" -ge 2 ]; then
	jcheck "$DIR/bench.json" 'd["cacheline"]["ok"] and d["cacheline"]["cpu_a"] != d["cacheline"]["cpu_b"] and d["cacheline"]["runs"] > 0 and d["cacheline"]["round_trips_per_run"] > 0'
	jcheck "$DIR/bench.json" '0 < d["cacheline"]["round_trip_min_ns"] <= d["cacheline"]["round_trip_ns"] <= d["cacheline"]["round_trip_max_ns"] and abs(2 * d["cacheline"]["one_way_ns"] - d["cacheline"]["round_trip_ns"]) < 1e-3 * d["cacheline"]["round_trip_ns"]'
	jcheck "$DIR/bench.json" 'all(r["ratio_cacheline"] > 0 for r in d["dmapipe"] if r["mode"] == "unthrottled")'
	ok "bench: one cache line between two cores: $(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["cacheline"]; print("%.0f ns round trip" % c["round_trip_ns"])' "$DIR/bench.json")"
fi
if command -v taskset >/dev/null; then
	taskset -c "$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')" \
		"$DMAPIPE" bench -c 1 -n 200 -r 1 --latency-frames 5 --latency-pairs 1 --memcpy-runs 1 \
		--size 640x480 --no-gst --no-storage --json --output "$DIR/bench-1cpu.md" \
		>"$DIR/bench-1cpu.json" 2>"$DIR/bench-1cpu.log" || fail "bench on one CPU"
	jcheck "$DIR/bench-1cpu.json" 'd["cacheline"]["ran"] and d["cacheline"]["skipped"] and not d["cacheline"]["ok"] and "only 1 CPU" in d["cacheline"]["error"]'
	jcheck "$DIR/bench-1cpu.json" 'all(r["ratio_cacheline"] is None for r in d["dmapipe"])'
	grep -q "one cache line between two cores, was not measured: only 1 CPU is allowed" \
		"$DIR/bench-1cpu.md" || fail "bench on one CPU: the report does not say why the cache line was not measured"
	ok "bench on one CPU: the cache-line baseline says it was skipped, and why"
fi

# --storage-max-request caps the device's requests for the storage runs and
# puts the device's setting back afterwards (needs root and a block device;
# otherwise the storage section says why it did not run)
knob=/sys/dev/block/$(stat -c '%Hd:%Ld' "$DIR")/queue/max_sectors_kb
[ -e "$knob" ] || knob=/sys/dev/block/$(stat -c '%Hd:%Ld' "$DIR")/../queue/max_sectors_kb
before=$(cat "$knob" 2>/dev/null || echo none)
# an earlier report with the hand-written profile of the handoff
# (docs/BENCHMARKS.md) between its markers: --output rewrites the rest
printf '# an old report\n\n<!-- handoff-profile: begin -->\n## profile\nkept by hand\n<!-- handoff-profile: end -->\n' \
	>"$DIR/bench-cap.md"
"$DMAPIPE" bench -c 1 -n 200 -r 1 --latency-frames 5 --latency-pairs 1 --memcpy-runs 1 \
	--size 640x480 --no-gst --storage-dir "$DIR" --storage-size 64 --storage-repeat 1 \
	--storage-max-request 256 --json --output "$DIR/bench-cap.md" >"$DIR/bench-cap.json" \
	2>"$DIR/bench-cap.log" ||
	fail "bench --storage-max-request"
# --output wrote the markdown report beside the JSON, the storage section in it
grep -q "^## .*[Ss]torage" "$DIR/bench-cap.md" || fail "bench --output wrote no storage section"
grep -q "^kept by hand$" "$DIR/bench-cap.md" && ! grep -q "^# an old report" "$DIR/bench-cap.md" ||
	fail "bench --output did not keep the profile section and rewrite the rest"
# ... and the cache-line row beside the handoff, with the ratio to it
if [ "$ncpus" -ge 2 ]; then
	grep -q "^| one cache line, CPU [0-9]* <-> CPU [0-9]* | [0-9]* ns | [0-9]* ns |" "$DIR/bench-cap.md" ||
		fail "bench --output: no cache-line row in the handoff section"
	grep -q "^| 1 | 2 / 4 | [0-9.]* us | \*\*[0-9.]*x\*\* |$" "$DIR/bench-cap.md" ||
		fail "bench --output: no handoff / cache-line ratio for 1 consumer"
fi
[ "$(cat "$knob" 2>/dev/null || echo none)" = "$before" ] ||
	fail "bench left $knob at $(cat "$knob"), not $before"
if [ "$(id -u)" = 0 ] && [ -w "$knob" ]; then
	jcheck "$DIR/bench-cap.json" 'd["storage"]["ran"] and d["storage"]["max_request_kib"] == 256'
	jcheck "$DIR/bench-cap.json" 'all(0 < d["storage"][k]["device_bytes"] <= 256 * 1024 * d["storage"][k]["device_requests"] for k in ("fio_write", "recorder_direct", "fio_read", "replay"))'
	ok "bench --storage-max-request 256: every side's device requests at most 256 KiB, $knob back to $before"
else
	jcheck "$DIR/bench-cap.json" 'not d["storage"]["ran"] and len(d["storage"]["skipped"]) > 0'
	ok "bench --storage-max-request: not root or no block device: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["storage"]["skipped"])' "$DIR/bench-cap.json")"
fi

# ---- bench: a killed shmsink's shared memory is removed ------------------------
# A stand-in gst-launch-1.0 (first in PATH) finishes the source-only runs at
# once, and as shmsink creates its area under /dev/shm the way GStreamer
# names it ("shmpipe.%5d.%5d"), then hangs: every shm run times out and is
# killed, and the bench must remove what the killed process left.
mkdir -p "$DIR/fakegst"
cat >"$DIR/fakegst/gst-launch-1.0" <<'FAKE'
#!/bin/sh
case "$*" in
*--version*) echo "gst-launch-1.0 version 1.22.0"; echo "GStreamer 1.22.0 (stand-in)" ;;
*shmsink*)
	for w in "$@"; do case "$w" in socket-path=*) : >"${w#socket-path=}" ;; esac; done
	area=$(printf '/dev/shm/shmpipe.%5d.%5d' $$ 0)
	head -c 65536 /dev/zero >"$area"
	echo "$area" >>"$FAKEGST_LOG"
	exec sleep 600 ;;
*shmsrc*) exec sleep 600 ;;
*) echo "Got EOS from element \"pipeline0\"."; echo "Execution ended after 0:00:00.010000000" ;;
esac
FAKE
chmod +x "$DIR/fakegst/gst-launch-1.0"
FAKEGST_LOG="$DIR/fakegst.log" PATH="$DIR/fakegst:$PATH" "$DMAPIPE" bench -c 1 -n 200 -r 1 \
	--latency-frames 5 --latency-pairs 1 --memcpy-runs 1 --size 640x480 --no-storage \
	--gst-frames 10 --gst-timeout 1000 --gst-probe 0 --json >"$DIR/bench-gst.json" \
	2>"$DIR/bench-gst.log" ||
	fail "bench with a hanging shmsink"
[ -s "$DIR/fakegst.log" ] || fail "the stand-in shmsink never ran"
jcheck "$DIR/bench-gst.json" 'd["gstreamer_shm"][0]["deadlocks"] + d["gstreamer_shm"][0]["runs_failed"] > 0'
while read -r area; do
	[ -e "$area" ] && fail "bench left $area behind after killing its shmsink"
done <"$DIR/fakegst.log"
ok "bench: $(wc -l <"$DIR/fakegst.log") killed shmsink runs, none left its area in /dev/shm"

echo "all tool tests passed"
exit 0

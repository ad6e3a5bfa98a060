#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `dmapipe pipewire` end to end (docs/PIPEWIRE.md), with a private PipeWire
# daemon this test starts (its runtime directory in the test's directory)
# and GStreamer's pipewiresrc as the consumer, linked to the node with
# pw-link as a session manager would:
#   dmapipe serve (pattern) -> dmapipe pipewire -> pipewiresrc ! filesink
# Every frame the consumer wrote is checked against the pattern
# (tests/pipewire-verify.c), and the tool's summary must say that nothing
# was copied and that the buffers went to PipeWire as what they are:
# MemFd for memfds (the host), DmaBuf for dma-bufs (the VM lane, where
# DMAPIPE_TEST_REQUIRE_DMABUF=1 demands them).
#   - NV12 (two planes in one buffer) and XRGB8888 (SPA's BGRx: the
#     byte-order names must match, or the consumer's caps do not);
#   - a producer that lets a consumer hold only 2 frames (the default):
#     frames still flow, the producer is never slowed;
#   - a producer whose pool grows while PipeWire holds frames: the node
#     renegotiates its buffers (bounded) and the frames stay right;
#   - no daemon: a clear error, exit 1.
# Exits 77 with the reason when PipeWire, pw-link, pipewiresrc or the
# tool's PipeWire support is missing, or the daemon does not start.
#
# Usage: test-pipewire.sh DMAPIPE PIPEWIRE-VERIFY
set -u
DMAPIPE=$1
VERIFY=$2
TAG=pipewire
. "$(dirname "$0")/testlib.sh"

"$DMAPIPE" pipewire --help | grep -q "without PipeWire" &&
	skip "dmapipe was built without PipeWire support (libpipewire-0.3-dev)"
for prog in pipewire pw-link pw-cli gst-launch-1.0 gst-inspect-1.0 python3; do
	command -v "$prog" >/dev/null || skip "$prog not installed (.ci/deps.sh all)"
done
export GST_REGISTRY="$DIR/gst-registry.bin"
gst-inspect-1.0 pipewiresrc >/dev/null 2>&1 ||
	skip "GStreamer's pipewiresrc not installed (gstreamer1.0-pipewire)"

unset PIPEWIRE_REMOTE PIPEWIRE_RUNTIME_DIR PIPEWIRE_DEBUG
mkdir -m 700 "$DIR/run" "$DIR/nodaemon"

# No daemon: said clearly, exit 1.
XDG_RUNTIME_DIR="$DIR/nodaemon" expect_status 1 pipewire --socket "$DIR/none.sock"
grep -q "cannot connect to PipeWire" "$DIR/err.log" || fail "no clear error without a daemon"
ok "without a daemon: $(head -n 1 "$DIR/err.log")"

export XDG_RUNTIME_DIR="$DIR/run"
# The least a daemon needs to link two clients: the native protocol, client
# nodes, links and permissions. No session manager: this test links.
cat >"$DIR/pipewire.conf" <<'EOF'
context.properties = {
    core.daemon = true
    core.name = pipewire-0
    support.dbus = false
    mem.allow-mlock = false
}
context.spa-libs = {
    support.* = support/libspa-support
}
context.modules = [
    { name = libpipewire-module-protocol-native }
    { name = libpipewire-module-client-node }
    { name = libpipewire-module-adapter }
    { name = libpipewire-module-link-factory }
    { name = libpipewire-module-metadata }
    { name = libpipewire-module-access args = { } }
]
context.objects = [ ]
EOF
bg daemon pipewire -c "$DIR/pipewire.conf"
DAEMON=$LAST
i=0
until timeout 5 pw-cli info 0 </dev/null >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 50 ] || ! kill -0 "$DAEMON" 2>/dev/null; then
		skip "the PipeWire daemon did not start: $(tail -n 3 "$DIR/daemon.log" | tr '\n' ' ')"
	fi
	sleep 0.2
done
ok "private PipeWire daemon $(pw-cli info 0 </dev/null | sed -n 's/.*version: "\(.*\)"/\1/p')"

# link_when_ready NODE SINK: links NODE's output port to SINK's input port
# once both exist (within 30 s), as a session manager would
link_when_ready() {
	i=0
	while :; do
		out=$(pw-link -o </dev/null 2>/dev/null | grep "^$1:" | head -n 1)
		in=$(pw-link -i </dev/null 2>/dev/null | grep "^$2:" | head -n 1)
		if [ -n "$out" ] && [ -n "$in" ] && pw-link "$out" "$in" </dev/null 2>/dev/null; then
			return 0
		fi
		i=$((i + 1))
		[ $i -le 150 ] || fail "could not link $1 to $2"
		sleep 0.2
	done
}

n=0
# run_case NAME FOURCC GST-FORMAT FRAMES SERVE-ARGS...: the chain above;
# leaves the tool's summary in $DIR/NAME.json and checks the frames
# (not $name: testlib's bg uses it)
run_case() {
	case=$1
	fourcc=$2
	gstfmt=$3
	frames=$4
	shift 4
	n=$((n + 1))
	sock="$DIR/cam$n.sock"
	node="dmapipe-test-$n"
	sink="dmapipe-test-sink-$n"
	# AFTER_LINK=1: serve starts streaming only when a second consumer
	# comes (however long the link takes), and that one comes once the
	# node is linked
	wait_consumers=0
	[ "${AFTER_LINK:-0}" = 1 ] && wait_consumers=2
	bg "$case-serve" "$DMAPIPE" serve --socket "$sock" --size 640x480 --format "$fourcc" \
		--fps 30 --wait-consumers "$wait_consumers" --wait-timeout 0 -q "$@"
	serve=$LAST
	wait_socket "$sock"
	"$DMAPIPE" pipewire --socket "$sock" --name "$node" --json \
		>"$DIR/$case.json" 2>"$DIR/$case-pipewire.log" &
	tool=$!
	PIDS="$PIDS $tool"
	bg "$case-gst" gst-launch-1.0 pipewiresrc client-name="$sink" num-buffers="$frames" ! \
		"video/x-raw,format=$gstfmt,width=640,height=480" ! \
		filesink location="$DIR/$case.raw"
	gst=$LAST
	link_when_ready "$node" "$sink"
	if [ "${AFTER_LINK:-0}" = 1 ]; then
		bg "$case-consume" "$DMAPIPE" consume --socket "$sock" --verify none --timeout 60000 -q
		second=$LAST
	fi
	wait_ok "$gst" "pipewiresrc ($case)"
	[ "${AFTER_LINK:-0}" = 1 ] && kill "$second"
	kill "$tool"
	wait "$tool" || fail "dmapipe pipewire ($case) exited with status $?"
	kill "$serve"
	wait "$serve" 2>/dev/null
	jcheck "$DIR/$case.json" 'd["result"] == "interrupted" and d["end"] == "interrupted"'
	jcheck "$DIR/$case.json" 'd["bytes_copied"] == 0 and d["frames_copied"] == 0'
	jcheck "$DIR/$case.json" 'd["data_type"] == ("DmaBuf" if d["dmabuf"] else "MemFd")'
	jcheck "$DIR/$case.json" "d['frames_to_pipewire'] >= $frames and d['driving']"
	jcheck "$DIR/$case.json" 'd["renegotiations"] <= 8 and d["renegotiations_refused"] == 0'
	if [ "${DMAPIPE_TEST_REQUIRE_DMABUF:-0}" = 1 ]; then
		jcheck "$DIR/$case.json" 'd["dmabuf"] and d["data_type"] == "DmaBuf"'
	fi
	# shellcheck disable=SC2046 # one argument per stride
	"$VERIFY" "$DIR/$case.raw" "$fourcc" 640x480 "$frames" $(python3 -c '
import json, sys
print(" ".join(str(p["stride"]) for p in json.load(open(sys.argv[1]))["planes"]))
' "$DIR/$case.json") >"$DIR/$case-verify.log" 2>&1 || fail "$case: frames differ from the pattern"
	rm -f "$DIR/$case.raw"
	ok "$case: $(cat "$DIR/$case-verify.log"); $(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("%s as %s, %d to PipeWire, %d returned, %d dropped, producer skipped %d, %d renegotiations, %d bytes copied"
      % (d["memory"], d["data_type"], d["frames_to_pipewire"], d["frames_returned"],
         d["frames_dropped"], d["producer_gaps"], d["renegotiations"], d["bytes_copied"]))
' "$DIR/$case.json")"
}

run_case nv12 NV12 NV12 60 --max-in-flight 4
run_case xrgb XRGB8888 BGRx 60 --max-in-flight 4
# The producer's default: this consumer may hold 2 frames, PipeWire's
# consumer keeps one; frames still flow (the producer skips what cannot go).
run_case in-flight-2 NV12 NV12 30
# Two buffers to start with: the pool grows while PipeWire holds frames,
# and every buffer added means new PipeWire buffers. When the pool grows
# is the producer's business: with rings it collects releases late, and a
# stream that began before the link grew before it, when there is nothing
# to renegotiate (three attempts in a row in the lane on 6.12, the machine
# loaded). So the stream begins after the link (AFTER_LINK).
AFTER_LINK=1 run_case grow NV12 NV12 60 --buffers 2 --max-in-flight 4
jcheck "$DIR/grow.json" 'd["buffers_added"] > 2 and d["renegotiations"] >= 1'
ok "pool growth after the link: $(json_u64 "$DIR/grow.json" buffers_added) buffers, renegotiated $(json_u64 "$DIR/grow.json" renegotiations) times"

#!/bin/sh
# SPDX-License-Identifier: MIT
#
# dmapipe rtsp and dmapipe srt across a network: two network namespaces
# joined by a veth pair, the producer and the server in one ("server",
# 169.254.77.1), the clients in the other ("client", 169.254.77.2), each
# client a gst-launch-1.0 process that decodes what it receives.
#
# Usage: test-net.sh PATH-TO-dmapipe PATH-TO-net-psnr CASE
#   rtsp      two clients (UDP and TCP) decode the stream; every decoded
#             frame is the test pattern within a PSNR bound taken from the
#             same encoder settings decoded locally in the same run (see
#             reference() for how), and the frames come in order; the
#             server's per-client counters
#   stall     a client that stops reading (TCP, SIGSTOP) lowers neither the
#             producer's rate nor the other client's, against the rates of
#             the same processes before it stopped
#   reconnect clients that leave (teardown, or killed) and come back
#             resume: decoded, in order, within the bound
#   restart   the producer is killed and started again: the server and its
#             client carry on, and the client decodes the new producer's
#             frames
#   errors    a busy port, an unknown path (404, logged once), a missing
#             plugin named with its package, bad command lines
#   srt       two SRT callers decode the stream within the bound; the
#             server's per-caller counters
#   srt-loss  the same through netem (delay and loss on the client's link):
#             every frame still arrives within the bound and the server
#             reports the retransmissions; 77 where the kernel has no
#             netem (the host), run in the VM lane
#   rtsp-loss an RTSP client over TCP through netem delay and loss
#   run       dmapipe run capture=vivid rtsp=:8554/cam: a client decodes
#             the capture device's frames; 77 without vivid (the host)
#
# NET_SIZE (WxH) and NET_FPS set the stream (default 640x360 at 30 fps; the
# VM lane, which emulates the CPU, uses less). Needs root (network
# namespaces), ip, gst-launch-1.0 with rtspsrc, srtsrc and avdec_h264.

set -u

DMAPIPE=${1:?usage: test-net.sh PATH-TO-dmapipe PATH-TO-net-psnr CASE}
PSNR=${2:?usage: test-net.sh PATH-TO-dmapipe PATH-TO-net-psnr CASE}
CASE=${3:?usage: test-net.sh PATH-TO-dmapipe PATH-TO-net-psnr CASE}
SIZE=${NET_SIZE:-640x360}
FPS=${NET_FPS:-30}
W=${SIZE%x*}
H=${SIZE#*x}
FRAME_BYTES=$((W * H + 2 * ((W + 1) / 2) * ((H + 1) / 2)))
# the dmapipe-net of this build tree, whatever the environment says
unset DMAPIPE_NET

# shellcheck source=../testlib.sh
TAG=net
. "$(dirname "$0")/../testlib.sh"

[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v ip >/dev/null 2>&1 || skip "ip not found (iproute2)"
command -v gst-launch-1.0 >/dev/null 2>&1 || skip "gst-launch-1.0 not found (gstreamer1.0-tools)"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to read the JSON reports"
for e in rtspsrc rtph264depay avdec_h264 srtsrc tsdemux h264parse identity; do
	gst-inspect-1.0 --exists $e || skip "GStreamer element $e not found (gstreamer1.0-plugins-good/-bad, gstreamer1.0-libav)"
done
"$DMAPIPE" rtsp --socket @probe --print-pipeline >"$DIR/probe.log" 2>&1 ||
	skip "dmapipe rtsp cannot run here: $(cat "$DIR/probe.log")"

NS_S=dmpnet-s-$$
NS_C=dmpnet-c-$$
SRV=169.254.77.1
CLI=169.254.77.2
VETH_C=dmpc$$

at_exit() {
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
}

# Two namespaces and a veth pair: everything stays on this machine.
ip netns add "$NS_S" || skip "cannot create a network namespace"
ip netns add "$NS_C" || skip "cannot create a network namespace"
ip link add dmps$$ type veth peer name "$VETH_C" || skip "cannot create a veth pair"
ip link set dmps$$ netns "$NS_S"
ip link set "$VETH_C" netns "$NS_C"
ip -n "$NS_S" addr add $SRV/24 dev dmps$$
ip -n "$NS_C" addr add $CLI/24 dev "$VETH_C"
for ns in "$NS_S" "$NS_C"; do
	ip -n "$ns" link set lo up
done
ip -n "$NS_S" link set dmps$$ up
ip -n "$NS_C" link set "$VETH_C" up
# the route from the client's namespace goes through the veth
ip -n "$NS_C" route get $SRV | grep -q "dev $VETH_C" || fail "no route from the client to $SRV"

in_srv() { ip netns exec "$NS_S" "$@"; }
in_cli() { ip netns exec "$NS_C" "$@"; }
# for bg: ip netns exec execs the command, so $LAST is the command's pid
SRV_NS="ip netns exec $NS_S"
CLI_NS="ip netns exec $NS_C"

SOCK="$DIR/cam.sock"
# The x264 settings of the server's pipeline, for the local reference.
ENCODER=$("$DMAPIPE" rtsp --socket "$SOCK" --print-pipeline |
	sed -n 's/.*\(videoconvert name=conv ! x264enc [^!]*\)!.*/\1/p')
[ -n "$ENCODER" ] || fail "no x264enc in: $("$DMAPIPE" rtsp --socket "$SOCK" --print-pipeline)"

start_producer() {
	bg producer $SRV_NS "$DMAPIPE" serve --socket "$SOCK" --size "$SIZE" --format I420 \
		--fps "$FPS"
	PRODUCER=$LAST
	wait_socket "$SOCK"
}

# listening: the server whose output goes to $DIR/server.log accepts
# clients (its start line is out) within 120 s: a start-up wait, not a
# measurement; in the lane, GStreamer's start and the encoder probe of
# `run`'s RTSP server took over 60 s in a guest with half a core per vCPU.
# `run` writes its progress line with a carriage return and no newline,
# so a start line printed after the first one continues it: the line is
# matched anywhere (net-run failed twice in the lane waiting for a start
# line that was there)
listening() {
	i=0
	wait_t0=$(date +%s)
	until grep -q "[a-z]*: \(serving\|listening on\) " "$DIR/${1:-server}.log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 1200 ] || fail "the server did not start in $(waited 120 "$wait_t0")"
		kill -0 "$LAST" 2>/dev/null || fail "the server ended"
		sleep 0.1
	done
}

# frames_of FILE: whole decoded frames in FILE so far
frames_of() {
	echo $(($(stat -c %s "$1" 2>/dev/null || echo 0) / FRAME_BYTES))
}

# wait_frames FILE N WHAT: FILE holds N decoded frames within 60 s
wait_frames() {
	i=0
	wait_t0=$(date +%s)
	while [ "$(frames_of "$1")" -lt "$2" ]; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "$3: $(frames_of "$1") frames decoded in $(waited 60 "$wait_t0"), waited for $2"
		sleep 0.1
	done
}

# client NAME PROTOCOL N [URL]: an RTSP client in the client namespace that
# decodes N frames into $DIR/NAME.i420 and ends (0 = until stopped).
# output-corrupt=false: a client that joins a running stream gets P frames
# until the key frame the server forces for it, and no decoder can make
# their pictures without the frames they refer to; a viewer does not show
# them (libav's default), and avdec_h264 would otherwise pass them on.
client() {
	eos=""
	[ "$3" -gt 0 ] && eos="eos-after=$(($3 + 1))"
	# teardown-timeout: at its EOS rtspsrc's own thread sends PAUSE, then
	# TEARDOWN, and the application's thread waits for that 100 ms (the
	# default), then closes the connection itself while the other thread
	# still waits on it for an answer: "Could not send message. (Received
	# end-of-file)" from gst_rtspsrc_pause or gst_rtspsrc_close, exit 1,
	# after all N frames came. On a busy machine the answers take longer
	# than 100 ms (with 1 ns it fails 3 times in 8 without load; the server
	# then logs PAUSE, no TEARDOWN, and the client closing). Up to 10 s
	# keeps one thread on the connection; a server that closed a connection
	# before its TEARDOWN would still fail the client.
	bg "$1" $CLI_NS gst-launch-1.0 -e rtspsrc location="${4:-rtsp://$SRV:8554/cam}" \
		protocols="$2" latency=200 tcp-timeout=30000000 teardown-timeout=10000000000 ! \
		rtph264depay wait-for-keyframe=true ! \
		avdec_h264 output-corrupt=false ! identity $eos ! video/x-raw,format=I420 ! \
		filesink location="$DIR/$1.i420" buffer-mode=unbuffered
}

# wait_client PID NAME WHAT: the RTSP client NAME exits 0 within 120 s, or
# exits 1 for nothing but rtspsrc's teardown race. gst-launch-1.0 -e sets
# the pipeline to NULL at EOS: rtspsrc queues PAUSE, then CLOSE, and CLOSE
# cancels the connection under the PAUSE being sent, which fails at once
# with "Could not send message. (Received end-of-file)" (23 us after
# "sending message" in a client's log, no round trip; the server's log
# shows only TEARDOWN from it, then the close that follows TEARDOWN).
# That exit 1 is accepted only after the EOS, with every error rtspsrc's
# end-of-file, and with the server still up; the frames are checked after
# this, and the next client finds the server serving.
wait_client() {
	i=0
	wait_t0=$(date +%s)
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 1200 ] || {
			kill "$1"
			fail "$3 did not finish in $(waited 120 "$wait_t0")"
		}
		sleep 0.1
	done
	wait "$1"
	st=$?
	[ $st -eq 0 ] && return 0
	[ $st -eq 1 ] && kill -0 "$SERVER" 2>/dev/null &&
		awk '/^Got EOS from element/ { eos = 1 }
			/^ERROR/ { n++; if (!eos || $0 !~ /GstRTSPSrc:rtspsrc0: Could not write to resource/) bad = 1 }
			/^Could not send message/ && !/Received end-of-file/ { bad = 1 }
			END { exit !(eos && n > 0 && !bad) }' "$DIR/$2.log" ||
		fail "$3 exited with status $st"
	ok "$3: exit 1 for rtspsrc's teardown race after its EOS (end-of-file), the server up"
}

# srt_client NAME N: an SRT caller decoding N frames into $DIR/NAME.i420
srt_client() {
	bg "$1" $CLI_NS gst-launch-1.0 -e srtsrc uri="srt://$SRV:9000" mode=caller latency="${SRT_LATENCY:-125}" ! \
		tsdemux ! h264parse ! avdec_h264 output-corrupt=false ! identity eos-after=$(($2 + 1)) ! \
		video/x-raw,format=I420 ! filesink location="$DIR/$1.i420" buffer-mode=unbuffered
}

# psnr NAME: net-psnr's JSON for $DIR/NAME.i420 into $DIR/NAME.psnr.json
psnr() {
	"$PSNR" "$W" "$H" "$DIR/$1.i420" >"$DIR/$1.psnr.json" || fail "net-psnr $1"
}

# reference: the server's encoder settings, decoded in the server's
# namespace without a network, N frames: its worst PSNR is the bound's base
reference() {
	# shellcheck disable=SC2086 # ENCODER is a pipeline fragment
	in_srv gst-launch-1.0 -q dmapipesrc socket-path="$SOCK" policy=latest ! $ENCODER ! \
		avdec_h264 ! identity eos-after=$(($1 + 1)) ! video/x-raw,format=I420 ! \
		filesink location="$DIR/reference.i420" >"$DIR/reference.log" 2>&1 ||
		fail "the local reference pipeline"
	psnr reference
	# x264 keeps most frames of the pattern at 50-60 dB (the median), but
	# on a busy machine now and then a few frames have their chroma some
	# levels off, down to 32 dB, whether or not they crossed a network; a
	# slice cut short decodes at about 28 dB until the next key frame. So
	# the bound is 26 dB under the reference's median.
	BOUND=$(python3 -c "import json; d=json.load(open('$DIR/reference.psnr.json')); print(round(d['psnr_median'] - 26, 2))")
	ok "reference: $(python3 -c "import json; d=json.load(open('$DIR/reference.psnr.json')); print('%d frames, PSNR min %.1f median %.1f dB' % (d['frames'], d['psnr_min'], d['psnr_median']))"); bound $BOUND dB"
}

# x264's rate control (x264enc's default CBR with a 600 ms VBV buffer)
# gives the frame that comes after a stall of the encoder's thread (a gap of
# 0.1-1 s in the timestamps, under load) almost no bits: a P frame of about
# 500 bytes instead of 20 kB, that decodes at 31-34 dB; the frames after it
# climb back (40, 44, 48 dB ...). With so few bits most of its blocks may
# still show the frame before, whose sequence number net-psnr then reads in
# it (49, 49, 51). The local reference pipeline does the same under load (no
# network, no RTSP, one encoder), so it is neither the network's nor the
# server's; on a busy machine it comes up to 3 times in 30 frames. So N/10
# frames (3 in 30) may be "starved": under the bound, or a
# repeat of a sequence number 10 dB or more under the frame before it (a
# frame decoded twice has the same quality twice). None may be under FLOOR:
# a slice cut short decodes at about 28 dB and stays there until the next
# key frame (more frames than allowed), garbage or another frame's content
# far lower (a picture unrelated to the pattern is at 10.8 dB).
FLOOR=30

# check_decoded NAME N [OUT_OF_ORDER]: N frames or more, none under FLOOR,
# every one within the bound but for N/10 starved ones (above), at most
# OUT_OF_ORDER (default 0) sequence steps backwards or repeats not starved
check_decoded() {
	psnr "$1"
	python3 - "$DIR/$1.psnr.json" "$2" "$BOUND" "$FLOOR" "${3:-0}" >"$DIR/$1.check" <<'EOF' ||
import json, sys
d = json.load(open(sys.argv[1]))
n, bound, floor, ooo = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
s, p = d["seqs"], d["psnr"]
step = [None] + [(s[i] - s[i - 1]) % 256 for i in range(1, len(s))]
repeat = [i for i in range(1, len(s)) if step[i] == 0 and p[i] <= p[i - 1] - 10]
starved = sorted(set([i for i in range(len(p)) if p[i] < bound] + repeat))
backwards = [i for i in range(1, len(s)) if step[i] > 127 or (step[i] == 0 and i not in repeat)]
allowed = max(1, n // 10)
bad = []
if d["frames"] < n:
    bad.append("%d frames, expected %d" % (d["frames"], n))
if d["psnr_min"] < floor:
    bad.append("a frame at %.2f dB, under %.0f" % (d["psnr_min"], floor))
if len(starved) > allowed:
    bad.append("%d frames starved (under %.2f dB or repeated), at most %d" % (len(starved), bound, allowed))
if len(backwards) > ooo:
    bad.append("%d out of order, at most %d" % (len(backwards), ooo))
print("; ".join(bad) if bad else
      "%d frames, PSNR min %.1f median %.1f dB, %d starved, %d out of order" %
      (d["frames"], d["psnr_min"], d["psnr_median"], len(starved), len(backwards)))
sys.exit(1 if bad else 0)
EOF
		fail "$1: $(cat "$DIR/$1.check")"
	ok "$1: $(cat "$DIR/$1.check")"
}

# stop_server: SIGINT, exit 0 within 30 s
stop_server() {
	kill -INT "$SERVER"
	WAIT_OK_SECONDS=30 wait_ok "$SERVER" "the server"
}

# netem ARGS: delay/loss on the client's side of the link (both directions
# through the client's veth egress and the server's); 77 without netem
netem() {
	ip netns exec "$NS_C" tc qdisc add dev "$VETH_C" root netem "$@" 2>"$DIR/netem.err" ||
		skip "no netem here (sch_netem): $(cat "$DIR/netem.err")"
	ip netns exec "$NS_S" tc qdisc add dev dmps$$ root netem "$@" ||
		fail "netem on the server side"
	ok "netem: $*"
}

case "$CASE" in
rtsp | rtsp-loss)
	N=90
	start_producer
	reference $N
	[ "$CASE" = rtsp-loss ] && netem delay 20ms loss 2%
	# as README.md shows it
	bg server $SRV_NS "$DMAPIPE" rtsp --socket "$SOCK" --listen :8554 --path /cam --json
	SERVER=$LAST
	listening
	if [ "$CASE" = rtsp ]; then
		client udp udp $N
		C1=$LAST
	fi
	client tcp tcp $N
	C2=$LAST
	WAIT_OK_SECONDS=120
	[ "$CASE" = rtsp ] && wait_client $C1 udp "the UDP client"
	wait_client $C2 tcp "the TCP client"
	[ "$CASE" = rtsp ] && check_decoded udp $N
	check_decoded tcp $N
	stop_server
	sed -n '/^{/,$p' "$DIR/server.log" >"$DIR/server.json"
	jcheck "$DIR/server.json" "d['encoder'] == 'x264enc' and d['access'] == 'maps'"
	jcheck "$DIR/server.json" "d['dmapipe']['copies'] == 0 and d['dmapipe']['frames'] >= $N"
	for t in udp tcp; do
		[ "$CASE" = rtsp-loss ] && [ $t = udp ] && continue
		jcheck "$DIR/server.json" "[c for c in d['clients'] if c['transport'] == '$t' and c['address'] == '$CLI' and c['frames'] >= $N and c['bytes'] > c['frames'] * 100 and c['packets'] >= c['frames']]"
	done
	ok "server: per-client frames, bytes, packets; encoder x264enc, maps, 0 copies"
	;;
stall)
	start_producer
	bg server $SRV_NS "$DMAPIPE" rtsp --socket "$SOCK" --listen $SRV:8554 --json
	SERVER=$LAST
	listening
	client steady udp 0
	STEADY=$LAST
	client staller tcp 0
	STALLER=$LAST
	wait_frames "$DIR/steady.i420" 20 "the steady client"
	wait_frames "$DIR/staller.i420" 20 "the stalling client"
	# the reference: both reading, 5 s
	p0=$(in_srv "$DMAPIPE" stats --socket "$SOCK" --json | sed -n 's/.*"frames_queued": \([0-9]*\).*/\1/p')
	s0=$(frames_of "$DIR/steady.i420")
	t0=$(date +%s.%N)
	sleep 5
	p1=$(in_srv "$DMAPIPE" stats --socket "$SOCK" --json | sed -n 's/.*"frames_queued": \([0-9]*\).*/\1/p')
	s1=$(frames_of "$DIR/steady.i420")
	t1=$(date +%s.%N)
	# the staller stops reading: its TCP window fills, the server's backlog for it too
	kill -STOP "$STALLER"
	x1=$(frames_of "$DIR/staller.i420")
	sleep 8
	p2=$(in_srv "$DMAPIPE" stats --socket "$SOCK" --json | sed -n 's/.*"frames_queued": \([0-9]*\).*/\1/p')
	s2=$(frames_of "$DIR/steady.i420")
	t2=$(date +%s.%N)
	x2=$(frames_of "$DIR/staller.i420")
	python3 - "$p0" "$p1" "$p2" "$s0" "$s1" "$s2" "$t0" "$t1" "$t2" <<'EOF' || fail "a stalled client slowed the stream"
import sys
p0, p1, p2, s0, s1, s2 = (int(x) for x in sys.argv[1:7])
t0, t1, t2 = (float(x) for x in sys.argv[7:10])
prod_ref, prod = (p1 - p0) / (t1 - t0), (p2 - p1) / (t2 - t1)
steady_ref, steady = (s1 - s0) / (t1 - t0), (s2 - s1) / (t2 - t1)
print("producer %.1f fps before, %.1f fps while a client is stalled; "
      "the other client %.1f fps before, %.1f while" % (prod_ref, prod, steady_ref, steady))
sys.exit(0 if prod >= 0.9 * prod_ref and steady >= 0.85 * steady_ref and steady_ref > 0 else 1)
EOF
	ok "stall: $(python3 -c "print('producer %.1f -> %.1f fps, other client %.1f -> %.1f fps' % (($p1-$p0)/($t1-$t0), ($p2-$p1)/($t2-$t1), ($s1-$s0)/($t1-$t0), ($s2-$s1)/($t2-$t1)))")"
	[ $((x2 - x1)) -lt $((s2 - s1)) ] || fail "the stopped client kept decoding ($x1 -> $x2)"
	kill -KILL "$STALLER"
	s3=$(frames_of "$DIR/steady.i420")
	sleep 2
	[ "$(frames_of "$DIR/steady.i420")" -gt $((s3 + FPS / 2)) ] ||
		fail "the steady client stopped after the stalled one was killed"
	ok "the steady client carries on after the stalled client is killed"
	# -e makes SIGINT an EOS: the client then meets rtspsrc's teardown race
	# like any client that ends (wait_client)
	kill -INT "$STEADY"
	wait_client "$STEADY" steady "the steady client"
	stop_server
	;;
reconnect)
	N=30
	start_producer
	reference $N
	bg server $SRV_NS "$DMAPIPE" rtsp --socket "$SOCK" --listen $SRV:8554 --json
	SERVER=$LAST
	listening
	WAIT_OK_SECONDS=120
	client first udp $N
	wait_client $LAST first "the first client"
	check_decoded first $N
	# nobody watches: the server let go of the stream
	sleep 1
	n=$(in_srv "$DMAPIPE" stats --socket "$SOCK" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['consumers_connected'])")
	[ "$n" -eq 0 ] || fail "with no client the server still consumes the stream ($n consumers)"
	ok "no client: no consumer on the producer"
	client again udp $N
	wait_client $LAST again "the client that came back"
	check_decoded again $N
	# a client that dies without a teardown, then another one
	client killed tcp 0
	wait_frames "$DIR/killed.i420" 10 "the client to be killed"
	kill -KILL "$LAST"
	client after tcp $N
	wait_client $LAST after "the client after a killed one"
	check_decoded after $N
	stop_server
	sed -n '/^{/,$p' "$DIR/server.log" >"$DIR/server.json"
	jcheck "$DIR/server.json" "d['clients_total'] >= 4 and d['dmapipe']['connections'] >= 2"
	ok "server: $(python3 -c "import json; d=json.load(open('$DIR/server.json')); print('%d clients, %d dmapipe connections' % (d['clients_total'], d['dmapipe']['connections']))")"
	;;
restart)
	start_producer
	reference 30
	bg server $SRV_NS "$DMAPIPE" rtsp --socket "$SOCK" --listen $SRV:8554 --json
	SERVER=$LAST
	listening
	client watcher udp 0
	WATCHER=$LAST
	wait_frames "$DIR/watcher.i420" 30 "the client"
	kill -KILL "$PRODUCER"
	wait "$PRODUCER" 2>/dev/null
	sleep 1
	before=$(frames_of "$DIR/watcher.i420")
	start_producer
	wait_frames "$DIR/watcher.i420" $((before + 60)) "the client after the producer restarted"
	kill -INT "$WATCHER"
	WAIT_OK_SECONDS=30 wait_ok "$WATCHER" "the client"
	# the new producer starts again at 0: one step back, no more
	check_decoded watcher $((before + 60)) 1
	stop_server
	sed -n '/^{/,$p' "$DIR/server.log" >"$DIR/server.json"
	jcheck "$DIR/server.json" "d['dmapipe']['reconnects'] >= 1"
	ok "the server's dmapipesrc reconnected"
	;;
errors)
	start_producer
	bg server $SRV_NS "$DMAPIPE" rtsp --socket "$SOCK" --listen $SRV:8554
	SERVER=$LAST
	listening
	sleep 1
	in_srv "$DMAPIPE" rtsp --socket "$SOCK" --listen $SRV:8554 >"$DIR/busy.out" 2>"$DIR/busy.err"
	[ $? -eq 1 ] || fail "a busy port: exit status $?, expected 1"
	grep -q "cannot listen on $SRV:8554: .*Address already in use" "$DIR/busy.err" ||
		fail "a busy port: $(cat "$DIR/busy.err")"
	ok "busy port: $(grep cannot "$DIR/busy.err")"
	bg srt1 $SRV_NS "$DMAPIPE" srt --socket "$SOCK" --listen $SRV:9000
	listening srt1
	sleep 1
	in_srv "$DMAPIPE" srt --socket "$SOCK" --listen $SRV:9000 -q >"$DIR/srtbusy.out" 2>"$DIR/srtbusy.err"
	[ $? -eq 1 ] || fail "a busy SRT port: exit status $?, expected 1"
	grep -q "cannot serve on srt://$SRV:9000: .*bind.*port in use" "$DIR/srtbusy.err" ||
		fail "a busy SRT port: $(cat "$DIR/srtbusy.err")"
	ok "busy SRT port: $(grep cannot "$DIR/srtbusy.err")"
	for i in 1 2 3; do
		in_cli gst-launch-1.0 rtspsrc location=rtsp://$SRV:8554/other ! fakesink \
			>"$DIR/404-$i.out" 2>&1 && fail "a client of /other succeeded"
		grep -q "Not Found" "$DIR/404-$i.out" || fail "no 404 for /other: $(cat "$DIR/404-$i.out")"
	done
	stop_server
	[ "$(grep -c "asked for /other: 404" "$DIR/server.log")" -eq 1 ] ||
		fail "the unknown path was not logged exactly once: $(cat "$DIR/server.log")"
	ok "unknown path: 404 for each of 3 requests, logged once"
	# a GStreamer without the ugly plugins: x264enc is named with its package
	mkdir "$DIR/plugins"
	sysdir=$(pkg-config --variable=pluginsdir gstreamer-1.0 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/gstreamer-1.0)
	for p in "$sysdir"/*.so; do
		case $(basename "$p") in
		libgstx264.so) ;;
		*) ln -s "$p" "$DIR/plugins/" ;;
		esac
	done
	GST_PLUGIN_SYSTEM_PATH_1_0="$DIR/plugins" GST_REGISTRY_1_0="$DIR/registry-no-ugly.bin" \
		"$DMAPIPE" rtsp --socket "$SOCK" >"$DIR/noplugin.out" 2>"$DIR/noplugin.err"
	[ $? -eq 1 ] || fail "a missing x264enc: exit status $?, expected 1"
	[ "$(cat "$DIR/noplugin.err")" = "dmapipe rtsp: error: GStreamer element x264enc not found: install gstreamer1.0-plugins-ugly" ] ||
		fail "a missing x264enc: $(cat "$DIR/noplugin.err")"
	ok "missing plugin: $(cat "$DIR/noplugin.err")"
	for args in "--listen 8554x" "--listen :70000" "--path cam" "--codec vp8" "--latency 100" \
		"--encoder nvenc" "--protocols sctp" "--socket $SOCK --test-source 320x240@30"; do
		# shellcheck disable=SC2086
		"$DMAPIPE" rtsp --socket "$SOCK" $args >"$DIR/usage.out" 2>"$DIR/usage.err"
		st=$?
		[ $st -eq 2 ] || fail "dmapipe rtsp $args: exit $st, expected 2"
	done
	# without --socket: the stream "default" in the default directory
	XDG_RUNTIME_DIR="$DIR/xdg" "$DMAPIPE" rtsp --print-pipeline >"$DIR/usage.out" 2>"$DIR/usage.err" ||
		fail "dmapipe rtsp --print-pipeline without --socket: $(cat "$DIR/usage.err")"
	grep -qF "socket-path=\"$DIR/xdg/dmapipe/default\"" "$DIR/usage.out" ||
		fail "dmapipe rtsp without --socket: not the default stream: $(cat "$DIR/usage.out")"
	"$DMAPIPE" srt --socket "$SOCK" --codec raw >"$DIR/usage.out" 2>"$DIR/usage.err"
	[ $? -eq 2 ] || fail "dmapipe srt --codec raw is not refused"
	ok "bad command lines: exit 2"
	;;
srt | srt-loss)
	N=90
	start_producer
	reference $N
	latency=200
	if [ "$CASE" = srt-loss ]; then
		netem delay 20ms loss 3%
		# 4 round trips of the 40 ms the link now takes both ways, and more
		latency=400
	fi
	bg server $SRV_NS "$DMAPIPE" srt --socket "$SOCK" --listen :9000 --latency $latency --json
	SERVER=$LAST
	listening
	sleep 1
	SRT_LATENCY=$latency srt_client caller1 $N
	C1=$LAST
	SRT_LATENCY=$latency srt_client caller2 $N
	C2=$LAST
	WAIT_OK_SECONDS=120
	wait_ok $C1 "the first caller"
	wait_ok $C2 "the second caller"
	check_decoded caller1 $N
	check_decoded caller2 $N
	stop_server
	sed -n '/^{/,$p' "$DIR/server.log" >"$DIR/server.json"
	jcheck "$DIR/server.json" "d['callers_total'] == 2 and d['dmapipe']['copies'] == 0"
	# frames encoded between srtsink's caller-added and caller-removed: the
	# first ones a caller decodes may be older than its caller-added
	jcheck "$DIR/server.json" "all(c['have_stats'] and c['packets-sent'] > 0 and c['frames'] >= $N * 9 // 10 for c in d['callers'])"
	if [ "$CASE" = srt-loss ]; then
		jcheck "$DIR/server.json" "all(c['packets-retransmitted'] > 0 for c in d['callers'])"
	fi
	ok "server: $(python3 -c "import json; d=json.load(open('$DIR/server.json')); print('; '.join('caller %s: %d frames, %d packets, %d retransmitted' % (c['address'], c['frames'], c['packets-sent'], c['packets-retransmitted']) for c in d['callers']))")"
	;;
run)
	node=$(node_of vivid-000-vid-cap) || skip "no vivid capture device (the VM lane has one)"
	N=30
	bg run $SRV_NS "$DMAPIPE" run capture=$node,format=NV12,size=320x180 rtsp=:8554/cam
	RUN=$LAST
	listening run
	client viewer tcp $N
	WAIT_OK_SECONDS=300 wait_ok $LAST "the client of dmapipe run"
	[ "$(frames_of "$DIR/viewer.i420")" -ge $N ] || fail "the client decoded $(frames_of "$DIR/viewer.i420") frames"
	kill -INT $RUN
	WAIT_OK_SECONDS=60 wait_ok $RUN "dmapipe run"
	grep -q "rtsp -> :8554/cam: exit 0" "$DIR/run.log" || fail "dmapipe run did not report its RTSP server"
	grep -q "encoder: x264enc: maps" "$DIR/run.log" || fail "the RTSP server of dmapipe run does not map the frames"
	ok "dmapipe run ... rtsp=:8554/cam: $N frames decoded by a client; $(grep "rtsp ->" "$DIR/run.log")"
	;;
*)
	fail "unknown case $CASE"
	;;
esac
exit 0

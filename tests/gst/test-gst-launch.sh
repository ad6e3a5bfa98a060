#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# dmapipesink and dmapipesrc across process boundaries with gst-launch-1.0:
#   - videotestsrc ! dmapipesink in one process and dmapipesrc ! checksumsink
#     in another print the same per-frame checksums as the single-process
#     pipeline, for several formats, and nothing is copied;
#   - the dmapipe tool on either end: dmapipe serve -> dmapipesrc !
#     dmapipesink (a relay, zero-copy) -> dmapipe consume --verify full, and
#     videotestsrc ! dmapipesink -> dmapipe consume;
#   - a live source into dmapipesink's own pool: a consumer's releases
#     wake the sink only at the drain (ring-wakeups);
#   - dmapipesrc reconnect=true carries on across a producer restart, and
#     posts its stats when num-buffers ends the stream;
#   - dmapipe play -> dmapipesrc: buffers timed on the replay's timeline
#     (PTS advance), not the recording's past capture times (PTS 0);
#   - the rate and colorimetry cross the process boundary (FORMAT_INFO):
#     dmapipe serve --fps 30000/1001 -> dmapipesrc ! avimux ! filesink
#     negotiates (framerate=0/1 did not) and the AVI says 30000/1001, and
#     videotestsrc's caps through dmapipesink reach dmapipesrc's caps,
#     also through dmapipe record and dmapipe play (the recording keeps
#     colorimetry and siting too: dmapipe probe says them).
#
# Usage: test-gst-launch.sh PATH-TO-dmapipe
# The GStreamer environment (GST_PLUGIN_PATH_1_0, GST_REGISTRY_1_0) comes
# from tests/gst/meson.build.

set -u

DMAPIPE=${1:?usage: test-gst-launch.sh PATH-TO-dmapipe}
N=30

# shellcheck source=testlib.sh
TAG=gst
. "$(dirname "$0")/../testlib.sh"

command -v gst-launch-1.0 >/dev/null 2>&1 || skip "gst-launch-1.0 not found (gstreamer1.0-tools)"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to parse the tool's JSON"
inspect=$(gst-inspect-1.0 dmapipesink 2>&1)
case "$inspect" in
*"ASan runtime does not come first"*)
	skip "the plugin is built with sanitizers and gst-launch-1.0 is not: it cannot load it" ;;
esac
gst-inspect-1.0 dmapipesink >/dev/null 2>&1 || {
	echo "FAIL: the dmapipe plugin does not load"
	echo "$inspect"
	exit 1
}
gst-inspect-1.0 checksumsink >/dev/null 2>&1 || skip "checksumsink not found (gstreamer1.0-plugins-bad)"

# The checksums of checksumsink's "TIMESTAMP CHECKSUM" lines, one per line.
# Matched anywhere in a line: with -m, gst-launch-1.0 prints bus messages
# from another thread, and a checksum can land in the middle of one.
checksums() {
	grep -oE '[0-9]+:[0-9]{2}:[0-9]{2}\.[0-9]{9} [0-9a-f]{40}' "$1" | cut -d' ' -f2
}

# Statistics posted on the bus at EOS (gst-launch-1.0 -m prints them).

# ---- videotestsrc -> dmapipesink | dmapipesrc -> checksumsink ----------------

cross_process() {
	fmt=$1
	w=$2
	h=$3
	caps="video/x-raw,format=$fmt,width=$w,height=$h,framerate=30/1"
	sock="$DIR/$fmt.sock"

	gst-launch-1.0 -q videotestsrc num-buffers=$N pattern=ball ! "$caps" ! \
		checksumsink >"$DIR/ref-$fmt.log" 2>&1 || fail "$fmt: reference pipeline"

	bg prod-$fmt gst-launch-1.0 -m videotestsrc num-buffers=$N pattern=ball ! "$caps" ! \
		dmapipesink socket-path="$sock" wait-consumers=1 sync=false
	prod=$LAST
	wait_socket "$sock"
	bg cons-$fmt gst-launch-1.0 -m dmapipesrc socket-path="$sock" policy=block \
		timeout=20000 ! checksumsink
	wait_ok $LAST "$fmt consumer"
	wait_ok $prod "$fmt producer"

	checksums "$DIR/ref-$fmt.log" >"$DIR/ref-$fmt.sum"
	checksums "$DIR/cons-$fmt.log" >"$DIR/cons-$fmt.sum"
	[ "$(wc -l <"$DIR/ref-$fmt.sum")" -eq $N ] || fail "$fmt: reference has no $N checksums"
	cmp -s "$DIR/ref-$fmt.sum" "$DIR/cons-$fmt.sum" ||
		fail "$fmt: checksums differ: $(diff "$DIR/ref-$fmt.sum" "$DIR/cons-$fmt.sum" | head -12)"
	[ "$(stat_of "$DIR/prod-$fmt.log" dmapipesink-stats copies)" = 0 ] ||
		fail "$fmt: the producer copied frames"
	[ "$(stat_of "$DIR/prod-$fmt.log" dmapipesink-stats frames)" = $N ] ||
		fail "$fmt: the producer served $(stat_of "$DIR/prod-$fmt.log" dmapipesink-stats frames) frames"
	[ "$(stat_of "$DIR/cons-$fmt.log" dmapipesrc-stats copies)" = 0 ] ||
		fail "$fmt: the consumer copied frames"
	ok "$fmt ${w}x$h: $N frames across processes, checksums identical, 0 copies"
}

cross_process I420 320 240
cross_process NV12 640 360
cross_process YUY2 320 240
cross_process BGRx 256 128
cross_process RGB 320 240
cross_process GRAY8 160 120

# ---- the tool on both ends, a zero-copy relay in the middle ------------------

S1="$DIR/serve.sock"
S2="$DIR/relay.sock"
bg serve "$DMAPIPE" serve --socket "$S1" --size 320x240 --format NV12 --fps 0 \
	--frames $N --wait-consumers 1 --quiet
serve=$LAST
wait_socket "$S1"
bg relay gst-launch-1.0 -m dmapipesrc socket-path="$S1" policy=block timeout=20000 ! \
	dmapipesink socket-path="$S2" wait-consumers=1 sync=false
relay=$LAST
wait_socket "$S2"
"$DMAPIPE" consume --socket "$S2" --policy block:4 --verify full --frames $N \
	--timeout 20000 --quiet --json >"$DIR/consume.json" 2>"$DIR/consume.log" ||
	fail "dmapipe consume after the relay"
wait_ok $relay "relay pipeline"
wait_ok $serve "dmapipe serve"
python3 - "$DIR/consume.json" $N <<'EOF' || fail "dmapipe consume: pattern or count"
import json, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
ok = (d["result"] == "ok" and d["frames_received"] == n and d["frames_verified"] == n
      and d["frames_failed"] == 0 and d["sequence_first"] == 0 and d["sequence_last"] == n - 1)
if not ok:
    print(json.dumps(d, indent=1))
sys.exit(0 if ok else 1)
EOF
[ "$(stat_of "$DIR/relay.log" dmapipesink-stats copies)" = 0 ] || fail "the relay copied frames"
[ "$(stat_of "$DIR/relay.log" dmapipesrc-stats copies)" = 0 ] || fail "the relay copied frames"
ok "dmapipe serve -> dmapipesrc ! dmapipesink -> dmapipe consume: $N frames verified byte for byte, 0 copies"

# ---- dmapipe serve -> dmapipesrc ! fakesink: the sink keeps its last buffer ---
# fakesink holds the last frame (last-sample) until EOS: serve must send EOS
# while that lease is out, not wait for it (a lease-timeout ERROR would end
# the pipeline with an error), and its rate must not count that wait.

S5="$DIR/last-sample.sock"
"$DMAPIPE" serve --socket "$S5" --size 320x240 --format NV12 --fps 30 --frames 10 \
	--wait-consumers 1 --quiet --json >"$DIR/serve-last.json" 2>"$DIR/serve-last.log" &
serve=$!
PIDS="$PIDS $serve"
wait_socket "$S5"
bg fakesink-last gst-launch-1.0 dmapipesrc socket-path="$S5" timeout=20000 ! \
	fakesink enable-last-sample=true
WAIT_OK_SECONDS=20 wait_ok $LAST "dmapipesrc ! fakesink after serve --frames 10"
wait_ok $serve "dmapipe serve --frames 10"
jcheck "$DIR/serve-last.json" 'd["result"] == "ok" and d["frames_queued"] == 10 and d["lease_timeouts"] == 0'
jcheck "$DIR/serve-last.json" 'd["fps"] > 15'
ok "dmapipe serve -> dmapipesrc ! fakesink: EOS while the sink keeps its last frame, no lease timeout"

# ---- videotestsrc -> dmapipesink -> dmapipe consume ---------------------------

S3="$DIR/tool.sock"
bg prod-tool gst-launch-1.0 -m videotestsrc num-buffers=$N ! \
	video/x-raw,format=NV12,width=320,height=240,framerate=30/1 ! \
	dmapipesink socket-path="$S3" wait-consumers=1 sync=false
prod=$LAST
wait_socket "$S3"
"$DMAPIPE" consume --socket "$S3" --policy block:4 --verify none --timeout 20000 \
	--quiet --json >"$DIR/consume2.json" 2>"$DIR/consume2.log" || fail "dmapipe consume of dmapipesink"
wait_ok $prod "videotestsrc ! dmapipesink"
python3 - "$DIR/consume2.json" $N <<'EOF' || fail "dmapipe consume: frame count"
import json, sys
d = json.load(open(sys.argv[1]))
ok = d["result"] == "ok" and d["frames_received"] == int(sys.argv[2]) and d["end"] == "eos"
if not ok:
    print(json.dumps(d, indent=1))
sys.exit(0 if ok else 1)
EOF
ok "videotestsrc ! dmapipesink -> dmapipe consume: $N frames, end of stream"

# ---- a live source: a consumer's release wakes nobody ------------------------
# videotestsrc takes dmapipesink's pool, which grows: a buffer a consumer
# releases can go back at the next render, whose queue takes the release
# from the ring, so the release costs no wake-up of the sink's dispatch
# thread (each one sent a datagram before). ring-wakeups counts the
# wake-ups consumers sent; the few left are the drain's at EOS, which
# wants every release. A consumer more than 4 frames (130 ms) behind
# makes frames wait for its room, and those releases wake the sink on
# purpose: the bound leaves room for a loaded machine.

NL=60
S_LIVE="$DIR/live.sock"
bg prod-live gst-launch-1.0 -m videotestsrc is-live=true num-buffers=$NL ! \
	video/x-raw,format=NV12,width=320,height=240,framerate=30/1 ! \
	dmapipesink socket-path="$S_LIVE" wait-consumers=1
prod=$LAST
wait_socket "$S_LIVE"
"$DMAPIPE" consume --socket "$S_LIVE" --policy queue:4 --in-flight 4 --verify none --timeout 20000 \
	--quiet --json >"$DIR/consume-live.json" 2>"$DIR/consume-live.log" ||
	fail "dmapipe consume of a live dmapipesink"
wait_ok $prod "live videotestsrc ! dmapipesink"
# a live source drops what comes before the consumer, or late
jcheck "$DIR/consume-live.json" 'd["result"] == "ok" and d["frames_received"] >= '$((NL / 2))' and d["end"] == "eos"'
received=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames_received"])' "$DIR/consume-live.json")
wakes=$(stat_of "$DIR/prod-live.log" dmapipesink-stats ring-wakeups)
[ -n "$wakes" ] || fail "dmapipesink-stats has no ring-wakeups"
[ "$wakes" -le $((received / 4)) ] ||
	fail "live source: $wakes wake-ups from the consumer for $received frames"
ok "live videotestsrc ! dmapipesink -> dmapipe consume: $received frames, $wakes release wake-ups"

# ---- a producer restart: reconnect=true carries on ---------------------------

S4="$DIR/restart.sock"
bg cons-reconnect gst-launch-1.0 -m dmapipesrc socket-path="$S4" reconnect=true \
	policy=block timeout=20000 num-buffers=$((2 * N)) ! checksumsink
cons=$LAST
for run in 1 2; do
	bg prod-restart-$run gst-launch-1.0 -q videotestsrc num-buffers=$N ! \
		video/x-raw,format=NV12,width=320,height=240,framerate=30/1 ! \
		dmapipesink socket-path="$S4" wait-consumers=1 sync=false
	wait_ok $LAST "producer run $run"
done
wait_ok $cons "consumer across the restart"
[ "$(checksums "$DIR/cons-reconnect.log" | wc -l)" -eq $((2 * N)) ] ||
	fail "reconnect: $(checksums "$DIR/cons-reconnect.log" | wc -l) frames instead of $((2 * N))"
# num-buffers ended that stream, not the producer: the stats are posted all the same
[ "$(stat_of "$DIR/cons-reconnect.log" dmapipesrc-stats frames)" = $((2 * N)) ] ||
	fail "reconnect: no dmapipesrc-stats message when num-buffers ended the stream"
ok "dmapipesrc reconnect=true: $((2 * N)) frames from two producer runs, stats at num-buffers"

# ---- a replay: dmapipe play -> dmapipesrc, timed on the replay's own timeline ------
# The recording is made first, so its capture times lie before the consumer's
# pipeline started: buffers timed by them would all get PTS 0. The replay
# stamps its frames when they are due: their PTS advance as the recording did.
S6="$DIR/rec.sock"
bg rec-serve "$DMAPIPE" serve --socket "$S6" --size 320x240 --format NV12 --fps 30 --frames 20 \
	--wait-consumers 1 --quiet
wait_socket "$S6"
"$DMAPIPE" record --socket "$S6" -o "$DIR/replay.rec" -q --timeout 20000 >"$DIR/replay-rec.log" 2>&1 ||
	fail "recording the stream to replay"
sleep 1
bg play "$DMAPIPE" play "$DIR/replay.rec" --socket "$DIR/play.sock" --wait-consumers 1 -q
play=$LAST
wait_socket "$DIR/play.sock"
bg cons-play gst-launch-1.0 -v dmapipesrc socket-path="$DIR/play.sock" policy=block \
	timeout=20000 ! fakesink silent=false
wait_ok $LAST "dmapipesrc ! fakesink of a replay"
wait_ok $play "dmapipe play"
python3 - "$DIR/cons-play.log" <<'EOF' || fail "replay PTS"
import re, sys
pts = [int(h) * 3600 + int(m) * 60 + float(s) for h, m, s in
       re.findall(r"pts: (\d+):(\d+):(\d+\.\d+)", open(sys.argv[1]).read())]
assert len(pts) >= 10, pts
assert all(b >= a for a, b in zip(pts, pts[1:])), pts
# the frames are 1/30 s apart on the replay's timeline: 19 intervals, minus
# those served before the pipeline was playing (PTS 0)
assert pts[-1] - pts[0] >= 0.3, pts
print("ok dmapipe play -> dmapipesrc: %d buffers, PTS %.3f .. %.3f s" % (len(pts), pts[0], pts[-1]))
EOF

# ---- bare names, socket mode and peer policy on the elements ---------------------------

# socket-path=NAME is the stream NAME in the default directory, as for the
# tool; socket-mode opens it (and its directory) to others, and peer-policy
# on either end says whom it serves or accepts (root is always accepted, so
# a refusal is not tried here: the value is parsed, a bad one refused).
XDG_RUNTIME_DIR="$DIR/xdg"
export XDG_RUNTIME_DIR
mkdir -m 700 "$XDG_RUNTIME_DIR"
bg named-sink gst-launch-1.0 videotestsrc is-live=true ! \
	video/x-raw,format=NV12,width=64,height=48,framerate=30/1 ! \
	dmapipesink socket-path=named socket-mode=0666 peer-policy=any
sink=$LAST
wait_socket "$XDG_RUNTIME_DIR/dmapipe/named"
[ "$(stat -c %a "$XDG_RUNTIME_DIR/dmapipe/named")" = 666 ] ||
	fail "dmapipesink socket-mode=0666: $(stat -c %a "$XDG_RUNTIME_DIR/dmapipe/named")"
[ "$(stat -c %a "$XDG_RUNTIME_DIR/dmapipe")" = 755 ] ||
	fail "dmapipesink socket-mode=0666: the directory is $(stat -c %a "$XDG_RUNTIME_DIR/dmapipe")"
"$DMAPIPE" consume --socket named --frames 5 -q >"$DIR/named-consume.log" 2>&1 ||
	fail "dmapipe consume --socket named from dmapipesink socket-path=named"
gst-launch-1.0 dmapipesrc socket-path=named peer-policy=uid:$(id -u) num-buffers=5 \
	timeout=10000 ! fakesink >"$DIR/named-src.log" 2>&1 ||
	fail "dmapipesrc socket-path=named peer-policy=uid:$(id -u)"
gst-launch-1.0 dmapipesrc socket-path=named peer-policy=nobody num-buffers=5 ! fakesink \
	>"$DIR/named-bad.log" 2>&1 && fail "dmapipesrc peer-policy=nobody accepted"
grep -q "peer-policy 'nobody'" "$DIR/named-bad.log" || fail "a bad peer-policy: $(cat "$DIR/named-bad.log")"
kill $sink
echo "ok socket-path=NAME in \$XDG_RUNTIME_DIR/dmapipe, socket-mode=0666, peer-policy on both ends"

# ---- the rate and colorimetry across processes: dmapipesrc ! avimux -----------

if gst-inspect-1.0 avimux >/dev/null 2>&1; then
	S7="$DIR/avi.sock"
	bg avi-serve "$DMAPIPE" serve --socket "$S7" --size 256x144 --format YUV420 \
		--fps 30000/1001 --frames 10 --wait-consumers 1 --quiet
	serve=$LAST
	wait_socket "$S7"
	bg avi gst-launch-1.0 dmapipesrc socket-path="$S7" policy=block timeout=20000 ! \
		avimux ! filesink location="$DIR/out.avi"
	wait_ok $LAST "dmapipesrc ! avimux ! filesink"
	wait_ok $serve "serve for avimux"
	python3 - "$DIR/out.avi" <<'EOF' || fail "avimux: the AVI's rate"
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:4] == b"RIFF" and d[8:12] == b"AVI ", d[:12]
usec = struct.unpack_from("<I", d, d.index(b"avih") + 8)[0]
strh = d.index(b"strh") + 8
kind = d[strh:strh + 4]
scale, rate = struct.unpack_from("<II", d, strh + 20)
length = struct.unpack_from("<I", d, strh + 32)[0]
assert kind == b"vids" and (scale, rate) == (1001, 30000), (kind, scale, rate)
assert usec == 33366 or usec == 33367, usec
assert length == 10, length
print("ok dmapipe serve --fps 30000/1001 -> dmapipesrc ! avimux: %d frames at %d/%d" %
      (length, rate, scale))
EOF
else
	echo "not tested: avimux (gstreamer1.0-plugins-good) is not installed"
fi

# dmapipesink sends what its caps say; dmapipesrc in another process puts it in its caps
S8="$DIR/caps.sock"
bg caps-prod gst-launch-1.0 -q videotestsrc num-buffers=5 ! \
	"video/x-raw,format=NV12,width=320,height=240,framerate=25/2,pixel-aspect-ratio=4/3,colorimetry=bt709,chroma-site=mpeg2,interlace-mode=interleaved,field-order=top-field-first" ! \
	dmapipesink socket-path="$S8" wait-consumers=1 sync=false
prod=$LAST
wait_socket "$S8"
gst-launch-1.0 -v dmapipesrc socket-path="$S8" policy=block timeout=20000 ! fakesink \
	>"$DIR/caps-cons.log" 2>&1 || fail "dmapipesrc of dmapipesink with rich caps"
wait_ok $prod "videotestsrc ! dmapipesink with rich caps"
caps=$(grep -m1 "dmapipesrc0.GstPad:src: caps" "$DIR/caps-cons.log")
# colorimetry and chroma siting cross in FORMAT_INFO but stay out of
# dmapipesrc's caps (docs/GSTREAMER.md says why)
for want in "framerate=(fraction)25/2" "pixel-aspect-ratio=(fraction)4/3" \
	"interlace-mode=(string)interleaved" "field-order=(string)top-field-first"; do
	case "$caps" in
	*"$want"*) ;;
	*) fail "dmapipesrc caps lack $want: $caps" ;;
	esac
done
ok "dmapipesink caps -> FORMAT_INFO -> dmapipesrc caps: rate, PAR, fields"

# ... and through a recording: dmapipesink -> dmapipe record -> dmapipe play -> dmapipesrc
S9="$DIR/caps-rec.sock"
bg caps-rec-prod gst-launch-1.0 -q videotestsrc num-buffers=5 ! \
	"video/x-raw,format=NV12,width=320,height=240,framerate=25/2,pixel-aspect-ratio=4/3,colorimetry=bt709,chroma-site=mpeg2,interlace-mode=interleaved,field-order=top-field-first" ! \
	dmapipesink socket-path="$S9" wait-consumers=1 sync=false
prod=$LAST
wait_socket "$S9"
"$DMAPIPE" record --socket "$S9" -o "$DIR/caps.rec" -q --timeout 20000 >"$DIR/caps-rec.log" 2>&1 ||
	fail "recording dmapipesink's rich caps"
wait_ok $prod "videotestsrc ! dmapipesink with rich caps, recorded"
"$DMAPIPE" probe "$DIR/caps.rec" --json >"$DIR/caps-probe.json" 2>"$DIR/caps-probe.log" ||
	fail "probe of the rich-caps recording"
python3 - "$DIR/caps-probe.json" <<'EOF' || fail "the recording lost dmapipesink's format info: $(cat "$DIR/caps-probe.json")"
import json, sys
d = json.load(open(sys.argv[1]))
got = tuple(d[k] for k in ("fps_nominal_num", "fps_nominal_den", "par_num", "par_den", "matrix",
                           "transfer", "primaries", "range", "chroma_site", "interlace", "field_order"))
assert got == (25, 2, 4, 3, "bt709", "bt709", "bt709", "limited", "mpeg2", "interleaved",
               "top-first"), got
EOF
bg caps-play "$DMAPIPE" play "$DIR/caps.rec" --socket "$DIR/caps-play.sock" --wait-consumers 1 -q
play=$LAST
wait_socket "$DIR/caps-play.sock"
gst-launch-1.0 -v dmapipesrc socket-path="$DIR/caps-play.sock" policy=block timeout=20000 ! \
	fakesink >"$DIR/caps-play-cons.log" 2>&1 || fail "dmapipesrc of a played rich-caps recording"
wait_ok $play "dmapipe play of the rich-caps recording"
caps=$(grep -m1 "dmapipesrc0.GstPad:src: caps" "$DIR/caps-play-cons.log")
for want in "framerate=(fraction)25/2" "pixel-aspect-ratio=(fraction)4/3" \
	"interlace-mode=(string)interleaved" "field-order=(string)top-field-first"; do
	case "$caps" in
	*"$want"*) ;;
	*) fail "dmapipesrc caps of a replay lack $want: $caps" ;;
	esac
done
ok "dmapipesink caps -> record (colorimetry, siting kept) -> play -> dmapipesrc caps: rate, PAR, fields"

# import-device is stated to the producer (docs/PROTOCOL.md section 13, rule
# 7): a name under /dev/dri that is no node is refused with the reason; a
# DRM node gets buffers from drm where vgem is loaded (the lane), else the
# refusal with the reason; "cpu" asks nothing
S10="$DIR/import.sock"
bg serve-import "$DMAPIPE" serve --socket "$S10" --size 320x240 --format NV12 --fps 30 --quiet
serve=$LAST
wait_socket "$S10"
gst-launch-1.0 dmapipesrc socket-path="$S10" import-device=/dev/dri/../sda timeout=5000 \
	num-buffers=5 ! fakesink >"$DIR/import-bad.log" 2>&1 && fail "import-device /dev/dri/../sda accepted"
grep -q "is not a DRM node name" "$DIR/import-bad.log" || fail "import-device /dev/dri/../sda: no reason given"
gst-launch-1.0 dmapipesrc socket-path="$S10" import-device=cpu timeout=5000 num-buffers=5 ! \
	fakesink >"$DIR/import-cpu.log" 2>&1 || fail "import-device cpu refused"
if [ -d /sys/module/vgem ]; then
	gst-launch-1.0 dmapipesrc socket-path="$S10" import-device=/dev/dri/card99 timeout=5000 \
		num-buffers=5 ! fakesink >"$DIR/import-drm.log" 2>&1 || fail "import-device with vgem refused"
	ok "dmapipesrc import-device: a bad name refused, cpu and a DRM node (vgem) served"
elif [ ! -e /dev/dri ]; then
	gst-launch-1.0 dmapipesrc socket-path="$S10" import-device=/dev/dri/card99 timeout=5000 \
		num-buffers=5 ! fakesink >"$DIR/import-drm.log" 2>&1 && fail "import-device without drm accepted"
	grep -q "cannot allocate buffers of a DRM device" "$DIR/import-drm.log" ||
		fail "import-device without drm: no reason given"
	ok "dmapipesrc import-device: a bad name refused, cpu served, a DRM node without drm refused"
else
	ok "dmapipesrc import-device: a bad name refused, cpu served (a DRM node not tried: /dev/dri without vgem)"
fi
kill "$serve"

echo "all gst-launch tests passed"

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `dmapipe serve --device` end to end, in the VM lane (vivid and
# dmapipe_vcap loaded; root):
#   - dmapipe_vcap -> serve -> consume --verify full, export and import:
#     every frame's bytes checked against the pattern, 0 bytes copied;
#   - the drop control: lost frames counted by serve and seen as sequence
#     gaps by the consumer;
#   - hotplug with --reacquire: vcap unbound while serving; serve closes
#     every V4L2 and dma-buf fd (checked in /proc/PID/fd, and rmmod, which
#     fails while a handle is open, must succeed); the module is loaded
#     again and the same consumer keeps receiving verified frames;
#   - hotplug without --reacquire: vivid unbound, the consumer gets EOS,
#     serve exits 1 saying why;
#   - bad input: a missing node, /dev/null, an output node, a format the
#     device lacks, import with a memfd allocator (the fallback log line).
#
#   test-v4l2-serve.sh DMAPIPE VCAP_KO
set -u
TOOL=$1
VCAP_KO=$2
TAG=v4l2-serve
. "$(dirname "$0")/testlib.sh"

VCAP=$(node_of dmapipe-vcap-0) || { echo "SKIP: no dmapipe_vcap device (insmod dmapipe_vcap.ko)"; exit 77; }
VIVID=$(node_of vivid-000-vid-cap) || { echo "SKIP: no vivid capture node (modprobe vivid)"; exit 77; }
VIVID_OUT=$(node_of vivid-000-vid-out) || fail "vivid has no output node"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to unbind and reload drivers"; exit 77; }

# waits up to $2 seconds for $1 (a grep pattern) in $3
wait_for() {
	i=0
	while ! grep -q "$1" "$3" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
}

# open fds of process $1 that are V4L2 nodes or dma-bufs
device_fds() {
	n=0
	for f in /proc/"$1"/fd/*; do
		t=$(readlink "$f" 2>/dev/null) || continue
		case $t in
		/dev/video*|/dmabuf:*|anon_inode:dmabuf*) n=$((n + 1)) ;;
		esac
	done
	echo $n
}

# ---- bad input ----------------------------------------------------------------------------
SOCK=$DIR/bad.sock
"$TOOL" serve -s "$SOCK" --device /dev/video-missing > "$DIR/bad.log" 2>&1
[ $? -eq 1 ] && grep -q "No such file" "$DIR/bad.log" || fail "missing node"
"$TOOL" serve -s "$SOCK" --device /dev/null > "$DIR/bad.log" 2>&1
[ $? -eq 1 ] && grep -q "not a V4L2 device" "$DIR/bad.log" || fail "/dev/null"
"$TOOL" serve -s "$SOCK" --device "$VIVID_OUT" > "$DIR/bad.log" 2>&1
[ $? -eq 1 ] && grep -q "not a video capture device" "$DIR/bad.log" || fail "output node"
"$TOOL" serve -s "$SOCK" --device "$VCAP" --format YUV444 > "$DIR/bad.log" 2>&1
[ $? -eq 1 ] && grep -q "does not offer YUV444; it offers" "$DIR/bad.log" || fail "absent format"
"$TOOL" serve -s "$SOCK" --device "$VCAP" --io sideways > "$DIR/bad.log" 2>&1
[ $? -eq 2 ] || fail "bad --io accepted"
"$TOOL" serve -s "$SOCK" --reacquire > "$DIR/bad.log" 2>&1
[ $? -eq 2 ] || fail "--reacquire without --device accepted"
ok "bad input refused with its reason"

# ---- vcap -> serve -> consume, verified -----------------------------------------------------
serve_and_consume() { # io extra-serve-args...
	io=$1
	shift
	SOCK=$DIR/$io.sock
	"$TOOL" serve -s "$SOCK" --device "$VCAP" --format NV12 --size 320x240 --fps 30 \
		--io "$io" --frames 45 --wait-consumers 1 --json "$@" \
		> "$DIR/serve-$io.json" 2> "$DIR/serve-$io.log" &
	spid=$!
	PIDS="$PIDS $spid"
	"$TOOL" consume -s "$SOCK" --frames 30 --policy queue:4 --verify full --json \
		> "$DIR/consume-$io.json" 2> "$DIR/consume-$io.log" || fail "consume ($io)"
	wait $spid || fail "serve ($io)"
	[ "$(json_str "$DIR/consume-$io.json" result)" = ok ] || fail "consume result ($io)"
	[ "$(json_u64 "$DIR/consume-$io.json" frames_verified)" -eq 30 ] || fail "verified ($io)"
	[ "$(json_u64 "$DIR/consume-$io.json" bytes_copied)" -eq 0 ] || fail "consumer copied ($io)"
	[ "$(json_u64 "$DIR/serve-$io.json" bytes_copied)" -eq 0 ] || fail "serve copied ($io)"
	grep -q '"dmabuf": true' "$DIR/consume-$io.json" || fail "not dma-bufs ($io)"
	grep -q "serve: $io mode:" "$DIR/serve-$io.log" || fail "mode not announced ($io)"
	ok "vcap $io: 30 frames verified bit for bit, 0 bytes copied ($(json_str "$DIR/serve-$io.json" io_note))"
}
serve_and_consume export
serve_and_consume import --allocator dmapipe

# The README's line: --io auto with --direct-io imports into buffers whose
# mappings feed O_DIRECT (dmapipe.ko here); --reacquire changes nothing
# while the device stays.
SOCK=$DIR/auto.sock
"$TOOL" serve --socket "$SOCK" --device "$VCAP" --io auto --direct-io --reacquire --format NV12 \
	--size 320x240 --fps 30 --frames 45 --wait-consumers 1 --json \
	> "$DIR/serve-auto.json" 2> "$DIR/serve-auto.log" &
spid=$!
PIDS="$PIDS $spid"
"$TOOL" consume -s "$SOCK" --frames 30 --policy queue:4 --verify full --json \
	> "$DIR/consume-auto.json" 2> "$DIR/consume-auto.log" || fail "consume (auto)"
wait $spid || fail "serve --io auto --direct-io --reacquire"
[ "$(json_u64 "$DIR/consume-auto.json" frames_verified)" -eq 30 ] || fail "verified (auto)"
[ "$(json_u64 "$DIR/serve-auto.json" bytes_copied)" -eq 0 ] || fail "serve copied (auto)"
grep -q "serve: import mode:" "$DIR/serve-auto.log" ||
	fail "--io auto --direct-io did not import: $(grep 'mode:' "$DIR/serve-auto.log")"
ok "vcap --io auto --direct-io --reacquire: imported, 30 frames verified, 0 bytes copied"

# ---- drops ----------------------------------------------------------------------------------
v4l2-ctl -d "$VCAP" --set-ctrl drop_rate=25 || fail "cannot set the drop rate"
serve_and_consume export
v4l2-ctl -d "$VCAP" --set-ctrl drop_rate=0
lost=$(json_u64 "$DIR/serve-export.json" frames_lost)
gaps=$(json_u64 "$DIR/consume-export.json" frames_dropped)
[ "$lost" -gt 0 ] && [ "$gaps" -gt 0 ] || fail "drops not counted (serve $lost, consumer $gaps)"
ok "drops: serve counted $lost lost frames, the consumer saw $gaps missing"

# ---- fallback -------------------------------------------------------------------------------
SOCK=$DIR/fallback.sock
"$TOOL" serve -s "$SOCK" --device "$VIVID" --fps 10 --io import --allocator memfd \
	--frames 3 > "$DIR/fallback.log" 2>&1 &
spid=$!
PIDS="$PIDS $spid"
"$TOOL" consume -s "$SOCK" --frames 3 --verify none > /dev/null 2>&1
wait $spid || fail "serve with the fallback"
grep -q "falling back to exporting" "$DIR/fallback.log" || fail "no fallback log line"
grep -q "export mode: fell back" "$DIR/fallback.log" || fail "fallback not announced"
ok "import with a memfd allocator fell back to export, and said so"

# ---- hotplug with --reacquire: vcap unbound, unloaded, loaded again -------------------------
params=""
for p in mem_ops n_devs width height fourcc fps; do
	params="$params $p=$(cat /sys/module/dmapipe_vcap/parameters/$p)"
done
SOCK=$DIR/hot.sock
"$TOOL" serve -s "$SOCK" --device "$VCAP" --format NV12 --size 320x240 --fps 30 \
	--reacquire --json > "$DIR/serve-hot.json" 2> "$DIR/serve-hot.log" &
spid=$!
PIDS="$PIDS $spid"
"$TOOL" consume -s "$SOCK" --frames 90 --policy queue:4 --verify full --timeout 60000 --json \
	> "$DIR/consume-hot.json" 2> "$DIR/consume-hot.log" &
cpid=$!
PIDS="$PIDS $cpid"
wait_for "consume: NV12" 20 "$DIR/consume-hot.log" || fail "no frames before unplugging"
sleep 1
echo dmapipe-vcap.0 > /sys/bus/platform/drivers/dmapipe-vcap/unbind || fail "unbind vcap"
wait_for "waiting for dmapipe-vcap-0" 20 "$DIR/serve-hot.log" || fail "serve did not see it go"
# frames the consumer held come back within a moment
i=0
while [ "$(device_fds $spid)" -ne 0 ]; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "serve keeps $(device_fds $spid) V4L2/dma-buf fds after the device left"
	sleep 0.1
done
rmmod dmapipe_vcap || fail "rmmod failed: a handle is still open"
ok "unplugged: serve closed every V4L2 and dma-buf fd, the module unloaded"
# shellcheck disable=SC2086
insmod "$VCAP_KO" $params || fail "insmod $VCAP_KO$params"
wait_for "device back as" 30 "$DIR/serve-hot.log" || fail "serve did not pick the device up"
wait $cpid || fail "the consumer failed across the reacquire"
[ "$(json_u64 "$DIR/consume-hot.json" frames_verified)" -eq 90 ] || fail "frames verified across it"
kill -TERM $spid
wait $spid
[ "$(json_u64 "$DIR/serve-hot.json" reacquired)" -eq 1 ] || fail "reacquire not counted"
[ "$(json_u64 "$DIR/serve-hot.json" bytes_copied)" -eq 0 ] || fail "serve copied"
ok "reacquired as $(node_of dmapipe-vcap-0): the same consumer verified 90 frames across the unplug"

# ---- hotplug without --reacquire: vivid unbound ------------------------------------------------
SOCK=$DIR/vivid.sock
"$TOOL" serve -s "$SOCK" --device "$VIVID" --fps 10 > "$DIR/serve-vivid.log" 2>&1 &
spid=$!
PIDS="$PIDS $spid"
"$TOOL" consume -s "$SOCK" --verify none --timeout 30000 --json \
	> "$DIR/consume-vivid.json" 2> "$DIR/consume-vivid.log" &
cpid=$!
PIDS="$PIDS $cpid"
wait_for "consume: " 20 "$DIR/consume-vivid.log" || fail "no vivid frames"
sleep 1
echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind || fail "unbind vivid"
wait $spid
rc=$?
echo vivid.0 > /sys/bus/platform/drivers/vivid/bind || fail "bind vivid"
[ $rc -eq 1 ] || fail "serve exited $rc after losing its device"
grep -q "disappeared" "$DIR/serve-vivid.log" || fail "serve did not say why"
wait $cpid || fail "the consumer failed"
[ "$(json_str "$DIR/consume-vivid.json" end)" = eos ] || fail "the consumer got no EOS"
[ "$(json_u64 "$DIR/consume-vivid.json" frames_received)" -gt 0 ] || fail "no vivid frames"
[ "$(json_u64 "$DIR/consume-vivid.json" bytes_copied)" -eq 0 ] || fail "vivid frames copied"
ok "vivid unplugged: EOS to the consumer after $(json_u64 "$DIR/consume-vivid.json" frames_received) frames, serve exit 1"
echo "9 passed, 0 failed"

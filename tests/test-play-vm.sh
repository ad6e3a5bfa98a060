#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Capture -> record -> play -> consume with real devices, in the VM lane
# (root; ext4 on a RAM disk, because the lane's tmpfs has no real O_DIRECT):
#   vcap    dmapipe_vcap -> serve --device --direct-io -> record -> play ->
#           consume --verify full: every frame's bytes checked against the
#           pattern (vcap draws it), and 0 bytes copied by the recorder and
#           by play (dmapipe.ko buffers: the disk DMAs from and into them)
#   vivid   the same from vivid at 10 fps; vivid does not draw the pattern,
#           so the CRC-32 of every frame's visible bytes is compared between
#           the recording (a raw export), what play served and what the
#           consumer received
#   device  record --device straight from dmapipe_vcap (no socket, import
#           into dmapipe.ko buffers: 0 bytes copied), then play -> consume
#           --verify full, every frame
#
#   test-play-vm.sh DMAPIPE vcap|vivid|device
set -u
TOOL=${1:?usage: test-play-vm.sh DMAPIPE vcap|vivid|device}
WHAT=${2:?usage: test-play-vm.sh DMAPIPE vcap|vivid|device}
TAG=play-vm
. "$(dirname "$0")/testlib.sh"

[ "${DMAPIPE_VM:-0}" = 1 ] || skip "runs in the VM lane (it makes a RAM disk file system)"
[ "$(id -u)" -eq 0 ] || skip "needs root for a RAM disk"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to read the JSON summaries"

case $WHAT in
vcap|device)
	DEV=$(node_of dmapipe-vcap-0) || skip "no dmapipe_vcap device (insmod dmapipe_vcap.ko)" ;;
vivid)
	DEV=$(node_of vivid-000-vid-cap) || skip "no vivid capture node (modprobe vivid)" ;;
*)
	echo "unknown sub-test $WHAT"
	exit 2 ;;
esac
HAVE_KMOD=0
[ -e /dev/dmapipe ] && HAVE_KMOD=1

# ---- ext4 on a RAM disk ---------------------------------------------------------------
[ -e /dev/ram0 ] && fail "/dev/ram0 exists already: not touching someone else's RAM disk"
modprobe brd rd_nr=1 rd_size=$((256 * 1024)) max_part=0 || fail "modprobe brd"
MNT=$DIR/disk
mkdir "$MNT"
mkfs.ext4 -q -F -E nodiscard /dev/ram0 || fail "mkfs.ext4"
mount -t ext4 /dev/ram0 "$MNT" || { modprobe ext4; mount -t ext4 /dev/ram0 "$MNT"; } ||
	fail "mount ext4"

# run by testlib.sh's cleanup once the processes stopped: drop the RAM disk
at_exit() {
	umount "$MNT" 2>/dev/null
	rmmod brd 2>/dev/null
}

# play_consume NAME FILE CONSUME-ARGS...: play FILE as fast as possible to one
# block-policy consumer (every frame reaches it)
play_consume() {
	pc=$1
	file=$2
	shift 2
	"$TOOL" play "$file" --socket "$DIR/play.sock" --speed max --wait-consumers 1 --json -q \
		--hash-log "$DIR/$pc-served.txt" >"$DIR/$pc-play.json" 2>"$DIR/$pc-play.log" &
	play=$!
	PIDS="$PIDS $play"
	wait_socket "$DIR/play.sock"
	"$TOOL" consume --socket "$DIR/play.sock" --policy block:4 --json -q \
		--hash-log "$DIR/$pc-received.txt" "$@" \
		>"$DIR/$pc-consume.json" 2>"$DIR/$pc-consume.log" || fail "consume $pc"
	wait_ok "$play" "play $pc"
}

# checks play's summary: every frame read, served; zero-copy into dmapipe.ko buffers
check_play() {
	pc=$1
	n=$2
	jcheck "$DIR/$pc-play.json" "d['result'] == 'ok' and d['direct'] and d['frames_served'] == $n"
	if [ $HAVE_KMOD = 1 ]; then
		jcheck "$DIR/$pc-play.json" "d['allocator'] == 'dmapipe' and d['bytes_copied'] == 0 and d['process_bytes_copied'] == 0 and d['paths']['direct']['bytes'] > 0"
	fi
}

recorded() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames_recorded"])' "$1"
}

case $WHAT in
vcap|vivid)
	if [ "$WHAT" = vcap ]; then
		SARGS="--format NV12 --size 640x480 --fps 30 --frames 60"
	else
		SARGS="--format YUYV --size 640x360 --fps 10 --frames 25"
	fi
	# --direct-io: import into buffers whose mapping the disk can DMA from
	# shellcheck disable=SC2086
	"$TOOL" serve --socket "$DIR/cam.sock" --device "$DEV" $SARGS --direct-io \
		--wait-consumers 1 -q --json >"$DIR/serve.json" 2>"$DIR/serve.log" &
	SERVE=$!
	PIDS="$PIDS $SERVE"
	wait_socket "$DIR/cam.sock"
	"$TOOL" record "$DIR/cam.sock" -o "$MNT/$WHAT.rec" --json -q --timeout 30000 \
		>"$DIR/record.json" 2>"$DIR/record.log" || fail "record"
	wait_ok "$SERVE" "serve --device"
	jcheck "$DIR/record.json" "d['result'] == 'ok' and d['mode'] == 'direct' and d['frames_recorded'] >= 10"
	if [ $HAVE_KMOD = 1 ]; then
		# serve imported dmapipe.ko buffers: the disk read them, no copy
		jcheck "$DIR/record.json" "d['bytes_copied'] == 0 and d['process_bytes_copied'] == 0 and d['paths']['direct']['bytes'] > 0"
	fi
	N=$(recorded "$DIR/record.json")
	if [ "$WHAT" = vcap ]; then
		play_consume p "$MNT/$WHAT.rec" --verify full
		check_play p "$N"
		jcheck "$DIR/p-consume.json" "d['result'] == 'ok' and d['frames_received'] == d['frames_verified'] == $N"
		ok "vcap -> serve -> record -> play -> consume: $N frames verified, $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("record copied %d, direct %d bytes" % (d["bytes_copied"], d["paths"]["direct"]["bytes"]))' "$DIR/record.json"), play from $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%s, copied %d" % (d["allocator"], d["bytes_copied"]))' "$DIR/p-play.json")"
	else
		play_consume p "$MNT/$WHAT.rec" --verify none
		check_play p "$N"
		"$TOOL" export "$MNT/$WHAT.rec" -o "$MNT/$WHAT.raw" -q || fail "export raw"
		python3 - "$MNT/$WHAT.raw" "$MNT/$WHAT.raw.json" "$DIR/p-served.txt" \
			"$DIR/p-received.txt" <<'EOF' || fail "hashes differ"
import json, sys, zlib
data = open(sys.argv[1], "rb").read()
s = json.load(open(sys.argv[2]))
size = s["frame_size"]
recorded = {f["sequence"]: "%08x" % zlib.crc32(data[k * size:(k + 1) * size])
            for k, f in enumerate(s["frame_list"])}
def load(path):
    return {int(a): b for a, b in (line.split() for line in open(path))}
served, received = load(sys.argv[3]), load(sys.argv[4])
assert len(recorded) == s["frames"] and len(data) == size * s["frames"], s
assert len(set(recorded.values())) > 1, "every frame is the same: nothing compared"
assert served == recorded, "play served other bytes than were recorded"
assert received == recorded, "the consumer received other bytes than were recorded"
print("ok vivid -> serve -> record -> play -> consume: %d frames, CRC-32 of each "
      "equal in the recording, as served and as received" % len(recorded))
EOF
	fi
	;;
device)
	"$TOOL" record --device "$DEV" --format NV12 --size 640x480 --fps 30 --frames 60 \
		-o "$MNT/direct.rec" --json -q --timeout 30000 \
		>"$DIR/record.json" 2>"$DIR/record.log" || fail "record --device"
	jcheck "$DIR/record.json" "d['result'] == 'ok' and d['source'] == 'device' and d['mode'] == 'direct' and d['frames_recorded'] == 60"
	if [ $HAVE_KMOD = 1 ]; then
		# imported into dmapipe.ko buffers: the disk DMAs from the capture buffers
		jcheck "$DIR/record.json" "d['io'] == 'import' and d['bytes_copied'] == 0 and d['process_bytes_copied'] == 0 and d['paths']['direct']['bytes'] > 0"
	fi
	"$TOOL" record --check "$MNT/direct.rec" --json >"$DIR/check.json" 2>"$DIR/check.log" ||
		fail "record --check"
	jcheck "$DIR/check.json" "d['frames_verified'] == 60"
	# the recording keeps what the device says of its frames: vcap's sRGB
	# colorspace (BT.709 primaries, sRGB transfer, V4L2's defaults for it:
	# the BT.601 matrix, limited range) and progressive frames
	"$TOOL" probe --json "$MNT/direct.rec" >"$DIR/probe.json" 2>"$DIR/probe.log" || fail "probe"
	jcheck "$DIR/probe.json" "d['primaries'] == 'bt709' and d['transfer'] == 'srgb' and d['matrix'] == 'bt601' and d['range'] == 'limited' and d['interlace'] == 'progressive'"
	play_consume d "$MNT/direct.rec" --verify full
	check_play d 60
	jcheck "$DIR/d-consume.json" "d['result'] == 'ok' and d['frames_received'] == d['frames_verified'] == 60"
	# a device that is not there: a clear error
	"$TOOL" record --device /dev/video-missing -o "$MNT/x.rec" >"$DIR/bad.log" 2>&1
	[ $? -eq 1 ] && grep -q "No such file" "$DIR/bad.log" || fail "missing device"
	[ -e "$MNT/x.rec" ] && fail "a failed record --device left a file"
	ok "record --device (vcap, $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%s mode, copied %d bytes" % (d["io"], d["bytes_copied"]))' "$DIR/record.json")) -> play -> consume: 60 frames verified"
	;;
esac

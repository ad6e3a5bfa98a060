#!/bin/sh
# SPDX-License-Identifier: MIT
#
# `dmapipe display` end to end.
#
#   test-display.sh DMAPIPE host   everywhere: bad command lines exit 2 with
#                                  the reason; a node that is no DRM device,
#                                  a missing node and (on a machine without
#                                  one) no KMS device at all exit 1 with one
#                                  line, before any producer is needed
#   test-display.sh DMAPIPE vm     in the VM lane, on vkms: `dmapipe serve`
#                                  streams XRGB8888 from each dma-buf
#                                  allocator the kernel has (vgem, udmabuf,
#                                  dmapipe.ko) and from vivid's and
#                                  dmapipe_vcap's capture buffers; the display
#                                  shows them on vkms's writeback connector,
#                                  which composes every 10th frame and must
#                                  equal it pixel for pixel, and on Virtual-1
#                                  (the README's command); 0 bytes copied, a
#                                  handful of imports for hundreds of frames.
#                                  Release fences; ARGB8888 shown where a
#                                  plane takes it (6.12) and refused where
#                                  none does (6.1); a memfd stream, a scaled
#                                  rectangle and vgem's card refused with one
#                                  line each.

set -u

DMAPIPE=${1:?usage: test-display.sh PATH-TO-dmapipe host|vm}
MODE=${2:-host}

# shellcheck source=testlib.sh
TAG=display
. "$(dirname "$0")/testlib.sh"

# one_line FILE WHAT: FILE holds exactly one line, containing WHAT
one_line() {
	[ "$(wc -l <"$1")" -eq 1 ] || fail "$(cat "$1") -- expected one line"
	grep -q -- "$2" "$1" || fail "'$(cat "$1")' lacks '$2'"
}

host_checks() {
	expect_status 0 display --help
	grep -q "^Usage: dmapipe display \[--socket SOCKET\]" "$DIR/out.log" || fail "display --help"
	for args in "--socket" "-s x --rect 1,2" "-s x --rect 0,0,0x0" "-s x --mode 640" \
		"-s x --frames -1" "-s x --check-writeback 0" "-s x --policy bogus" \
		"-s x --connector=" "-s x --bogus" "-s x extra"; do
		# shellcheck disable=SC2086
		expect_status 2 display $args
		[ -s "$DIR/err.log" ] || fail "'display $args': no reason given"
		head -n 1 "$DIR/err.log" | grep -q "^dmapipe display: " ||
			fail "'display $args': $(head -n 1 "$DIR/err.log")"
	done
	ok "bad command lines exit 2 with the reason"

	expect_status 1 display --socket "$DIR/none" --device /dev/null
	one_line "$DIR/err.log" "/dev/null is not a DRM device"
	expect_status 1 display --socket "$DIR/none" --device "$DIR/no-such-card"
	one_line "$DIR/err.log" "No such file or directory"
	if ls /dev/dri/card* >/dev/null 2>&1; then
		echo "# this machine has DRM cards: the no-KMS-device case is not tried"
	else
		expect_status 1 display --socket "$DIR/none"
		one_line "$DIR/err.log" "no KMS device"
	fi
	ok "no DRM device, a missing node, no KMS device: exit 1 with one line, no producer needed"
}

[ "$MODE" = host ] && { host_checks; exit 0; }
[ "$MODE" = vm ] || fail "usage: test-display.sh DMAPIPE host|vm"
if [ -z "${DMAPIPE_VM:-}" ]; then
	skip "'vm' shows streams on the lane's vkms; run through tests/vm/lane"
fi
host_checks

has() {
	case " ${DMAPIPE_VM_FEATURES:-} " in *" $1 "*) return 0 ;; esac
	return 1
}

"$DMAPIPE" info --json >"$DIR/info.json" 2>"$DIR/info.log" || fail "info --json"
CARD=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(k["path"] for k in d["devices"]["kms"] if k["driver"] == "vkms"))' "$DIR/info.json")
[ -n "$CARD" ] || fail "no vkms KMS device in info --json"
ARGB=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("yes" if any(f["name"] == "ARGB8888" for k in d["devices"]["kms"] if k["driver"] == "vkms"
                   for p in k["planes"] if p["type"] != "cursor" for f in p["formats"]) else "no")' \
	"$DIR/info.json")

N=0
# serve NAME ARGS...: a producer on $DIR/NAME.sock; its pid in $SERVE
# (no locals in sh, and bg sets $name: this one is $sname)
serve() {
	sname=$1
	shift
	rm -f "$DIR/$sname.sock"
	bg "serve-$sname" "$DMAPIPE" serve --socket "$DIR/$sname.sock" --quiet "$@"
	SERVE=$LAST
	wait_socket "$DIR/$sname.sock"
}

stop_serve() {
	kill "$SERVE" 2>/dev/null
	wait "$SERVE" 2>/dev/null
}

# display NAME ARGS...: dmapipe display --json into $DIR/NAME.json, must exit 0
display() {
	dname=$1
	shift
	N=$((N + 1))
	"$DMAPIPE" display --device "$CARD" --quiet --json "$@" >"$DIR/$dname.json" \
		2>"$DIR/$dname.log" || fail "display $dname exited $? ($(tail -n 1 "$DIR/$dname.log"))"
}

# The writeback connector composes what the CRTC shows; vkms cannot drive it
# beside Virtual-1, so it is the output for the proof.
proof() {
	pname=$1
	size=$2
	display "$pname-wb" --socket "$DIR/$pname.sock" --connector Writeback-1 --mode "$size" \
		--check-writeback 10 --frames 40
	jcheck "$DIR/$pname-wb.json" '(d["result"] == "ok" and d["frames_shown"] >= 40 and
		d["writeback_checked"] >= 2 and d["writeback_failed"] == 0 and
		d["writeback_skipped"] == 0 and d["bytes_copied"] == 0 and d["dmabuf"] and
		d["connector"] == "Writeback-1" and not d["scaled"] and
		d["imports"] <= 8 and d["framebuffers"] <= 8)'
}

# ---- each dma-buf allocator: vgem, udmabuf, dmapipe.ko ------------------------

for alloc in drm udmabuf dmapipe; do
	feat=$alloc
	[ "$alloc" = drm ] && feat=vgem
	if ! has "$feat"; then
		echo "# $alloc: no $feat on this kernel"
		continue
	fi
	serve "$alloc" --allocator "$alloc" --format XRGB8888 --size 1024x768 --fps 30 --predrawn
	proof "$alloc" 1024x768
	# the README's command: the first connected connector, Virtual-1
	"$DMAPIPE" display --socket "$DIR/$alloc.sock" --device "$CARD" --frames 30 \
		>"$DIR/$alloc-readme.out" 2>"$DIR/$alloc-readme.log" ||
		fail "display --socket --device --frames exited $?"
	grep -q "^display: ok (frames)" "$DIR/$alloc-readme.out" &&
		grep -q "Virtual-1 1024x768@60" "$DIR/$alloc-readme.out" &&
		grep -q "copied      0 pixel bytes (zero-copy)" "$DIR/$alloc-readme.out" ||
		fail "$alloc: the README's display command: $(cat "$DIR/$alloc-readme.out")"
	display "$alloc-fences" --socket "$DIR/$alloc.sock" --release-fences --frames 30
	jcheck "$DIR/$alloc-fences.json" '(d["result"] == "ok" and d["frames_shown"] >= 30 and
		d["release_fences_given"] >= 29 and d["bytes_copied"] == 0)'
	stop_serve
	ok "$alloc: shown on vkms, the writeback equal to the frames, release fences, 0 bytes copied"
done

# ---- capture devices: vivid and dmapipe_vcap, in their own buffers -------------

for dev in vivid-000-vid-cap dmapipe-vcap-0; do
	node=$(node_of "$dev") || { echo "# no $dev"; continue; }
	serve "$dev" --device "$node" --format XRGB8888 --size 640x480 --fps 30
	proof "$dev" 640x480
	display "$dev-virtual" --socket "$DIR/$dev.sock" --mode 640x480 --frames 20
	jcheck "$DIR/$dev-virtual.json" '(d["result"] == "ok" and d["connector"] == "Virtual-1" and
		d["bytes_copied"] == 0 and d["mode_width"] == 640)'
	stop_serve
	ok "$dev: its capture buffers shown on vkms, the writeback equal to the frames, 0 copied"
done

# ---- formats, refusals --------------------------------------------------------

serve argb --format ARGB8888 --size 640x480 --fps 30 --predrawn
if [ "$ARGB" = yes ]; then
	# placed in the middle of the mode: black around it
	proof argb 1024x768
	jcheck "$DIR/argb-wb.json" 'd["rect"] == {"x": 192, "y": 144, "width": 640, "height": 480}'
	ok "ARGB8888 640x480 shown centred on 1024x768, equal to the frame, black around"
else
	"$DMAPIPE" display --socket "$DIR/argb.sock" --device "$CARD" --mode 640x480 \
		>/dev/null 2>"$DIR/argb.err"
	[ $? -eq 1 ] || fail "ARGB8888 without a plane for it did not exit 1"
	one_line "$DIR/argb.err" "scans out ARGB8888; its planes take: XRGB8888"
	ok "ARGB8888 refused with the formats the planes take (no plane takes it here)"
fi
stop_serve

serve scale --format XRGB8888 --size 1024x768 --fps 30 --predrawn
"$DMAPIPE" display --socket "$DIR/scale.sock" --device "$CARD" --rect 0,0,512x384 \
	>/dev/null 2>"$DIR/scale.err"
[ $? -eq 1 ] || fail "a rectangle vkms cannot scale to did not exit 1"
one_line "$DIR/scale.err" "refused a 1024x768 frame at 0,0 512x384"
stop_serve
ok "a rectangle the plane cannot scale to: exit 1, one line"

serve memfd --allocator memfd --format XRGB8888 --size 1024x768 --fps 30 --predrawn
"$DMAPIPE" display --socket "$DIR/memfd.sock" --device "$CARD" >/dev/null 2>"$DIR/memfd.err"
[ $? -eq 1 ] || fail "a memfd stream did not exit 1"
grep -q "the producer's buffers are not dma-bufs (memfds)" "$DIR/memfd.err" ||
	fail "memfd stream: $(cat "$DIR/memfd.err")"
stop_serve
ok "a memfd stream: refused, a display scans out dma-bufs only"

if has vgem; then
	for card in /dev/dri/card*; do
		[ "$card" = "$CARD" ] && continue
		"$DMAPIPE" display --socket "$DIR/none" --device "$card" >/dev/null 2>"$DIR/vgem.err"
		[ $? -eq 1 ] || fail "$card (vgem) did not exit 1"
		one_line "$DIR/vgem.err" "(vgem) drives no display"
	done
	ok "vgem's card: exit 1, it drives no display"
fi

if [ -n "${DMAPIPE_VM_ARTIFACTS:-}" ]; then
	cp "$DIR"/*.json "$DMAPIPE_VM_ARTIFACTS/" 2>/dev/null
fi
echo "# $N display runs"

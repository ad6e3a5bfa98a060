#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# dma-bufs in GStreamer 1.26's DMA_DRM caps, on the VM lane (vgem buffers;
# the host exports no dma-buf), this build's plugin running in the Debian
# 13 root (GStreamer 1.26) that gst-newer made on the host:
#
#   dmapipe serve --allocator drm --format NV12     (the guest, outside the root)
#   dmapipesrc ! video/x-raw(memory:DMABuf),format=DMA_DRM ! dmapipesink
#                                                    (in the root)
#   dmapipe consume --verify full                    (the guest)
#
# dmapipesrc, left to the runtime's choice, negotiates format=DMA_DRM with
# drm-format=NV12 (the producer's linear modifier), dmapipesink takes
# those caps and serves the same dma-bufs on, every frame's pattern is
# checked byte for byte by the consumer, and both elements report 0
# copies. No element of GStreamer 1.26's base plugins exports dma-bufs,
# so videotestsrc ! dmapipesink in DMA_DRM caps is not run.
#
# Usage: test-gst-dma-drm.sh PATH-TO-dmapipe ROOT SOURCE-DIR BUILD-DIR
# Exits 77 off the lane, or when the root was not made on the host first
# (the guest has no network to make it).

set -u

DMAPIPE=${1:?usage: test-gst-dma-drm.sh PATH-TO-dmapipe ROOT SOURCE-DIR BUILD-DIR}
ROOT=$2
SRC=$3
BUILD=$4
N=30
TAG=gst-dma-drm
# shellcheck source=../testlib.sh
. "$(dirname "$0")/../testlib.sh"

[ -n "${DMAPIPE_VM:-}" ] || skip "needs dma-bufs (vgem): run through tests/vm/lane"
[ -f "$ROOT/.complete" ] || skip "no Debian 13 root at $ROOT: the gst-newer test makes it on the host"
[ -d "$ROOT$SRC" ] && [ -d "$ROOT$BUILD" ] ||
	skip "the root at $ROOT has no mount points for $SRC and $BUILD: tests/gst/newer-gst-root $ROOT $SRC $BUILD makes them on the host"

S1="$DIR/serve.sock"
S2="$DIR/relay.sock"
bg serve "$DMAPIPE" serve --socket "$S1" --allocator drm --size 320x240 --format NV12 \
	--fps 0 --frames $N --wait-consumers 1 --quiet
serve=$LAST
wait_socket "$S1"
bg relay "$(dirname "$0")/in-newer-root" "$ROOT" "$SRC" "$BUILD" "$DIR" \
	gst-launch-1.0 -v -m dmapipesrc socket-path="$S1" policy=block timeout=20000 ! \
	"video/x-raw(memory:DMABuf),format=DMA_DRM" ! \
	dmapipesink socket-path="$S2" wait-consumers=1 sync=false
relay=$LAST
wait_socket "$S2"
"$DMAPIPE" consume --socket "$S2" --policy block:4 --verify full --frames $N \
	--timeout 20000 --quiet --json >"$DIR/consume.json" 2>"$DIR/consume.log" ||
	fail "dmapipe consume after the DMA_DRM relay"
wait_ok $relay "the DMA_DRM relay in the root"
wait_ok $serve "dmapipe serve"

log=$DIR/relay.log
caps=$(grep -m1 'dmapipesink0.GstPad:sink: caps = ' "$log")
case $caps in
*'video/x-raw(memory:DMABuf), format=(string)DMA_DRM,'*'drm-format=(string)NV12'[,\ ]*) ;;
*'video/x-raw(memory:DMABuf), format=(string)DMA_DRM,'*'drm-format=(string)NV12') ;;
*) fail "dmapipesink did not get DMA_DRM caps with drm-format=NV12: '$caps'" ;;
esac
python3 - "$DIR/consume.json" $N <<'PY' || fail "dmapipe consume: pattern or count"
import json, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
ok = (d["result"] == "ok" and d["frames_received"] == n and d["frames_verified"] == n
      and d["frames_failed"] == 0)
if not ok:
    print(json.dumps(d, indent=1))
sys.exit(0 if ok else 1)
PY
[ "$(stat_of "$log" dmapipesrc-stats copies)" = 0 ] || fail "dmapipesrc copied frames"
[ "$(stat_of "$log" dmapipesink-stats copies)" = 0 ] || fail "dmapipesink copied frames"
ok "dmapipesrc ! DMA_DRM caps ! dmapipesink on the root's GStreamer: $caps; $N dma-buf frames verified, 0 copies"

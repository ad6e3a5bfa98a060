#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# dmapipesrc hands received dma-bufs to kmssink, which scans them out on
# the VM lane's vkms without a copy:
#
#   dmapipe serve --allocator drm --format XRGB8888 --size 1024x768 --predrawn
#       --frames N --wait-consumers 1
#   dmapipesrc policy=block ! kmssink driver-name=vkms force-modesetting=true
#
# kmssink imports a GstDmaBufMemory with PRIME and keeps the framebuffer on
# the memory, so each producer buffer is imported once ("setting KMS mem"
# at DEBUG) and found again for every later frame ("found KMS mem"); a
# frame it cannot import is copied into a dumb buffer, logged as "frame
# copy" (GST_PERFORMANCE). dmapipesrc reuses one GstMemory per producer
# buffer, so the imports are as many as the producer's buffers, none is
# copied, and dmapipesrc reports 0 copies.
#
# Usage: test-gst-kms.sh PATH-TO-dmapipe
# Environment (from tests/gst/meson.build): GST_PLUGIN_PATH_1_0 and
# GST_REGISTRY_1_0. Exits 77 without vkms, vgem or GStreamer's kms plugin.

set -u

DMAPIPE=${1:?usage: test-gst-kms.sh PATH-TO-dmapipe}
N=60

# shellcheck source=testlib.sh
TAG=gst-kms
. "$(dirname "$0")/../testlib.sh"

[ -n "${DMAPIPE_VM:-}" ] || skip "shows frames on the VM lane's vkms; run through tests/vm/lane"
command -v gst-launch-1.0 >/dev/null 2>&1 || skip "gst-launch-1.0 not found (gstreamer1.0-tools)"
gst-inspect-1.0 dmapipesrc >/dev/null 2>&1 || fail "the dmapipe plugin does not load"
gst-inspect-1.0 kmssink >/dev/null 2>&1 || skip "no kmssink (gstreamer1.0-plugins-bad)"

sock=$DIR/kms.sock
# the stream's end (EOS) is what makes dmapipesrc post its statistics
bg serve "$DMAPIPE" serve --socket "$sock" --allocator drm --format XRGB8888 --size 1024x768 \
	--fps 30 --predrawn --buffers 4 --frames $N --wait-consumers 1 --quiet
prod=$LAST
wait_socket "$sock"

GST_DEBUG="kmssink:6,GST_PERFORMANCE:6" GST_DEBUG_NO_COLOR=1 \
	bg sink gst-launch-1.0 -m dmapipesrc socket-path="$sock" policy=block timeout=20000 ! \
	kmssink driver-name=vkms force-modesetting=true sync=false
WAIT_OK_SECONDS=120 wait_ok $LAST "dmapipesrc ! kmssink"
wait_ok $prod "the producer"

log=$DIR/sink.log
grep -q "frame copy" "$log" && fail "kmssink copied frames: $(grep -m3 'frame copy' "$log")"
imports=$(grep -c "setting KMS mem" "$log")
found=$(grep -c "found KMS mem" "$log")
[ "$imports" -ge 1 ] && [ "$imports" -le 8 ] ||
	fail "kmssink imported $imports dma-bufs for $N frames of a producer with 4 to 8 buffers"
[ $((imports + found)) -ge $N ] ||
	fail "kmssink took $imports imports and $found cached framebuffers for $N frames"
[ "$(stat_of "$log" dmapipesrc-stats frames)" = $N ] ||
	fail "dmapipesrc passed on $(stat_of "$log" dmapipesrc-stats frames) frames, not $N"
[ "$(stat_of "$log" dmapipesrc-stats copies)" = 0 ] || fail "dmapipesrc copied frames"
ok "$N frames through dmapipesrc ! kmssink on vkms: $imports imports, $found framebuffers reused, no copy"

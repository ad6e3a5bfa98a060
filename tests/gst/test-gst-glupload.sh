#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# GPU import in GStreamer (issue #15, docs/GSTREAMER.md "dmapipesrc and
# glupload"): dmapipesrc asks the producer for buffers the vgem node can
# import (import-device=, docs/PROTOCOL.md section 13, rule 7), and GstGL's
# glupload imports them with EGL_EXT_image_dma_buf_import on Mesa's
# llvmpipe (kms_swrast on vgem), headless:
#
#   dmapipe serve --format AB24 --frames N --wait-consumers 1
#   dmapipesrc import-device=VGEM policy=block ! glupload ! gleffects_identity !
#       gldownload ! video/x-raw,format=RGBA ! dmapipesink wait-consumers=1
#   dmapipe consume --verify full --frames N
#
# What proves what:
#   - serve's info log: a new buffer generation from the drm allocator, i.e.
#     the producer allocated for this consumer;
#   - glupload's log (glupload:6, gleglimage:5): every frame went through the
#     "Dmabuf" uploader, none through "Raw Data" or another one, so no CPU
#     copy reached the texture; the EGLImage imports ("gst_egl_image_from_dmabuf")
#     are at most as many as the producer's buffers: each is imported once and
#     found again on its GstMemory for later frames;
#   - dmapipesrc-stats: N frames, 0 copies, dma-buf memory;
#   - gleffects_identity samples the imported texture into a new one (what
#     any GL consumer does), gldownload reads that back, dmapipesink copies
#     it into its pool (after the import, so allowed) and keeps dmapipesrc's
#     sequence numbers (GST_BUFFER_OFFSET): `dmapipe consume --verify full`
#     checks every byte of every frame against the pattern of the frame serve
#     drew. gldownload straight after glupload would not do: GstGL 1.22 reads
#     back only textures GL has drawn into, an imported one comes back as
#     zeros. ABGR8888 (GStreamer's RGBA) because GstGL's filters take RGBA and
#     sampling keeps all four bytes; an X byte would read back as 0xff.
#
# LP_NUM_THREADS=0: GstGL releases a filter's input buffer once its draw is
# issued, not executed, so dmapipesrc gives the frame back to the producer
# before llvmpipe's threads may have sampled it. A GPU driver fences the
# dma-buf and the producer's CPU access (DMA_BUF_IOCTL_SYNC) waits for the
# fence; llvmpipe fences nothing. Without threads llvmpipe rasterizes in the
# GL thread when GstGL flushes, before the release. With threads the lane
# read most frames back with the content serve drew next into their buffer.
#
# Headless GstGL 1.22: GST_GL_WINDOW=gbm with GST_GL_GBM_DRM_DEVICE=the vgem
# card node (and GST_GL_PLATFORM=egl, GST_GL_API=gles2). GstGL's GBM display
# logs that vgem has no KMS resources and goes on: its EGL display is GBM on
# vgem, where Mesa loads kms_swrast (llvmpipe), the display egl-import uses.
# GstGL's plain EGL display (GST_GL_WINDOW=egl) does not work here: it asks
# for the X11 platform, so EGL_PLATFORM=surfaceless is not used and
# eglInitialize fails on xcb_connect (docs/GSTREAMER.md).
#
# Usage: test-gst-glupload.sh PATH-TO-dmapipe
# Environment (from tests/gst/meson.build): GST_PLUGIN_PATH_1_0 and
# GST_REGISTRY_1_0. Exits 77 without vgem or gstreamer1.0-gl.

set -u

DMAPIPE=${1:?usage: test-gst-glupload.sh PATH-TO-dmapipe}
N=60

# shellcheck source=testlib.sh
TAG=gst-glupload
. "$(dirname "$0")/../testlib.sh"

# vgem's card node: its platform device has no driver link but is named vgem
vgem=""
for d in /sys/class/drm/card[0-9]*; do
	[ -e "$d/device" ] || continue
	if [ "$(basename "$(readlink -f "$d/device")")" = vgem ] && [ -e "/dev/dri/${d##*/}" ]; then
		vgem=/dev/dri/${d##*/}
		break
	fi
done
[ -n "$vgem" ] || skip "no vgem device (modprobe vgem; the VM lane loads it)"
command -v gst-launch-1.0 >/dev/null 2>&1 || skip "gst-launch-1.0 not found (gstreamer1.0-tools)"
gst-inspect-1.0 dmapipesrc >/dev/null 2>&1 || fail "the dmapipe plugin does not load"
for e in glupload gleffects_identity gldownload; do
	gst-inspect-1.0 $e >/dev/null 2>&1 || skip "no $e (gstreamer1.0-gl)"
done

S1=$DIR/serve.sock
S2=$DIR/sink.sock
# a long lease: dmapipesrc holds its first frames while GstGL makes its
# context on llvmpipe, seconds on the lane's shared CPUs; a lease taken back
# would let serve draw the next frame into a buffer glupload has not read yet
bg serve env DMAPIPE_DEBUG=info "$DMAPIPE" serve --socket "$S1" --size 320x240 --format AB24 \
	--fps 60 --frames $N --wait-consumers 1 --lease-timeout 60000 --quiet
serve=$LAST
wait_socket "$S1"

LP_NUM_THREADS=0 GST_GL_PLATFORM=egl GST_GL_API=gles2 GST_GL_WINDOW=gbm GST_GL_GBM_DRM_DEVICE=$vgem \
	GST_DEBUG="glupload:6,gleglimage:5,gldisplay:4" GST_DEBUG_NO_COLOR=1 \
	bg pipeline gst-launch-1.0 -m dmapipesrc socket-path="$S1" import-device="$vgem" \
	policy=block timeout=20000 ! glupload ! gleffects_identity ! gldownload ! \
	video/x-raw,format=RGBA ! \
	dmapipesink socket-path="$S2" wait-consumers=1 sync=false
pipeline=$LAST
wait_socket "$S2"
"$DMAPIPE" consume --socket "$S2" --policy block:4 --verify full --frames $N \
	--timeout 20000 --quiet --json >"$DIR/consume.json" 2>"$DIR/consume.log" ||
	fail "dmapipe consume after gldownload"
WAIT_OK_SECONDS=120 wait_ok "$pipeline" "dmapipesrc ! glupload ! ... ! dmapipesink"
wait_ok "$serve" "dmapipe serve"

log=$DIR/pipeline.log
grep -q "new buffer generation .*allocator drm" "$DIR/serve.log" ||
	fail "serve made no buffer generation from drm for import-device=$vgem"
jcheck "$DIR/consume.json" "(d['result'] == 'ok' and d['frames_received'] == $N and
	d['frames_verified'] == $N and d['frames_failed'] == 0 and d['sequence_first'] == 0 and
	d['sequence_last'] == $N - 1)"
# "uploader NAME returned 1" is GST_GL_UPLOAD_DONE, once per uploaded buffer
dmabuf=$(grep -c "uploader Dmabuf returned 1," "$log")
others=$(grep "uploader .* returned 1," "$log" | grep -vc "uploader Dmabuf returned")
[ "$dmabuf" = $N ] || fail "glupload's Dmabuf uploader took $dmabuf of $N frames"
[ "$others" = 0 ] ||
	fail "$others frames went through another uploader: $(grep 'uploader .* returned 1,' "$log" | grep -m3 -v Dmabuf)"
# the producer's buffers: 4 at first, more if the consumers held them all
buffers=$(sed -n 's/.*grew the pool to \([0-9]*\).*/\1/p' "$DIR/serve.log" | tail -n 1)
buffers=${buffers:-4}
imports=$(grep -c "gst_egl_image_from_dmabuf: fourcc" "$log")
[ "$imports" -ge 1 ] && [ "$imports" -le "$buffers" ] ||
	fail "glupload made $imports EGLImages for $N frames of $buffers producer buffers"
[ "$(stat_of "$log" dmapipesrc-stats frames)" = $N ] ||
	fail "dmapipesrc passed on $(stat_of "$log" dmapipesrc-stats frames) frames, not $N"
[ "$(stat_of "$log" dmapipesrc-stats copies)" = 0 ] || fail "dmapipesrc copied frames"
grep -q 'dmapipesrc-stats.*memory=(string)dma-buf' "$log" ||
	fail "dmapipesrc's memory was not dma-buf: $(grep -m1 dmapipesrc-stats "$log")"
ok "$N frames: serve allocated from drm for $vgem, glupload's Dmabuf uploader took every one ($imports EGLImages for $buffers buffers), dmapipesrc copied none, every byte verified after gldownload"

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# GPU import through negotiation (docs/PROTOCOL.md section 13, rule 7):
# `dmapipe serve` allocates from memfd, then from its default allocator;
# egl-import connects naming the vgem card node as its import_device, so
# serve makes a new buffer generation from the drm allocator, which Mesa
# (llvmpipe through kms_swrast) imports with EGL_EXT_image_dma_buf_import.
# Every frame is sampled on the GPU and checked against the pattern; no
# byte is copied by the library on either side. 77 without vgem or EGL.
#
# Usage: test-egl-import.sh DMAPIPE EGL-IMPORT
set -u
TOOL=$1
EGL=$2
TAG=egl-import
. "$(dirname "$0")/testlib.sh"

# serve_egl CASE [SERVE-OPTIONS...]: one producer, one GPU consumer of 60
# frames; serve logs at info level, where the new generation is said
serve_egl() {
	c=$1
	shift
	bg "serve-$c" env DMAPIPE_DEBUG=info "$TOOL" serve -s "$DIR/$c" --size 320x240 --format AR24 --fps 60 \
		--strict "$@"
	serve=$LAST
	wait_socket "$DIR/$c"
	"$EGL" "$DIR/$c" 60 >"$DIR/egl-$c.log" 2>&1
	status=$?
	if [ $status -eq 77 ]; then
		kill "$serve"
		skip "$(tail -n 1 "$DIR/egl-$c.log")"
	fi
	[ $status -eq 0 ] || fail "$c: egl-import exited $status"
	kill -INT "$serve"
	wait "$serve" || fail "$c: serve exited $?"
	grep -q "new buffer generation .*allocator drm" "$DIR/serve-$c.log" ||
		fail "$c: serve made no generation from drm"
	grep -q "60 frames, [0-9]* buffers imported, 60 verified, 0 failed; producer allocator drm, bytes copied 0 here and 0 by the producer" \
		"$DIR/egl-$c.log" || fail "$c: egl-import's summary"
	ok "$c: $(tail -n 1 "$DIR/egl-$c.log")"
}

serve_egl memfd --allocator memfd
serve_egl default

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# This build's plugin on a newer GStreamer than Debian 12's: a Debian 13
# root (GStreamer 1.26, made once per build directory by newer-gst-root)
# runs this build's binaries in a chroot of a private mount namespace,
# with no DMAPIPE_GST_DMA_DRM, so the caps form is the runtime's choice:
#   - the root's GStreamer is 1.24 or newer (else the test proves nothing);
#   - gst-inspect-1.0 shows DMA_DRM in both elements' pad templates, and
#     not with DMAPIPE_GST_DMA_DRM=0;
#   - test-gst-parts and test-gst-elements (the GstHarness tests, among
#     them the caps-form ones: dmapipesink serving drm-format caps without
#     a copy) pass against GStreamer 1.26's libraries, test-gst-parts
#     comparing our drm-format strings and DMA_DRM caps with GStreamer's
#     own writer and readers.
# The host has no dma-buf exporter, so dmapipesrc's DMA_DRM negotiation
# with a dma-buf producer is not run here (docs/GSTREAMER.md).
#
# Usage: test-gst-newer.sh ROOT SOURCE-DIR BUILD-DIR TEST-GST-PARTS TEST-GST-ELEMENTS
# Exit 77 where the root cannot be made (see newer-gst-root) or no mount
# namespace can be had.

set -u

ROOT=${1:?usage: test-gst-newer.sh ROOT SOURCE-DIR BUILD-DIR PARTS ELEMENTS}
SRC=$2
BUILD=$3
PARTS=$4
ELEMENTS=$5
TAG=gst-newer
# shellcheck source=../testlib.sh
. "$(dirname "$0")/../testlib.sh"

"$(dirname "$0")/newer-gst-root" "$ROOT" "$SRC" "$BUILD"
status=$?
[ "$status" = 77 ] && skip "no Debian 13 root: see above"
[ "$status" = 0 ] || fail "newer-gst-root exited $status"
grep -h "debootstrap took" "$ROOT.log" 2>/dev/null
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"

in_root() {
	"$(dirname "$0")/in-newer-root" "$ROOT" "$SRC" "$BUILD" "$DIR" "$@"
}

in_root true 2>"$DIR/unshare.log" || skip "no private mount namespace here: $(cat "$DIR/unshare.log")"

version=$(in_root gst-launch-1.0 --version | sed -n 's/^GStreamer \([0-9.]*\).*/\1/p')
minor=$(echo "$version" | cut -d. -f2)
if [ -z "$minor" ] || [ "$minor" -lt 24 ]; then
	fail "the root's GStreamer is '$version', not 1.24 or newer"
fi
ok "the root runs GStreamer $version"

for element in dmapipesrc dmapipesink; do
	in_root gst-inspect-1.0 "$element" >"$DIR/$element.log" 2>&1 ||
		fail "gst-inspect-1.0 $element in the root"
	grep -q "format: DMA_DRM" "$DIR/$element.log" ||
		fail "$element's templates on GStreamer $version have no format=DMA_DRM"
	in_root env DMAPIPE_GST_DMA_DRM=0 GST_REGISTRY_1_0="$DIR/registry-0.bin" \
		gst-inspect-1.0 "$element" >"$DIR/$element-0.log" 2>&1 ||
		fail "gst-inspect-1.0 $element in the root with DMAPIPE_GST_DMA_DRM=0"
	if grep -q "DMA_DRM" "$DIR/$element-0.log"; then
		fail "$element's templates have DMA_DRM with DMAPIPE_GST_DMA_DRM=0"
	fi
done
ok "both elements' templates: DMA_DRM chosen by the runtime, the 1.22 form when forced"

in_root "$PARTS" >"$DIR/parts.log" 2>&1 || fail "test-gst-parts on GStreamer $version"
# compared with GStreamer's own drm-format code, not skipped
grep -q '^ok [0-9]* /format/drm-format-matches-gstreamer$' "$DIR/parts.log" ||
	fail "test-gst-parts did not compare drm-format with GStreamer $version's"
ok "test-gst-parts on GStreamer $version: $(grep -c '^ok' "$DIR/parts.log") passed"
in_root "$ELEMENTS" >"$DIR/elements.log" 2>&1 || fail "test-gst-elements on GStreamer $version"
grep -q "Checks: [0-9]*, Failures: 0, Errors: 0" "$DIR/elements.log" ||
	fail "test-gst-elements ran no checks"
ok "test-gst-elements on GStreamer $version: $(grep -o 'Checks: [0-9]*' "$DIR/elements.log")"

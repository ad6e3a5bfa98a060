#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/gst/bench-gst.py, which writes the GStreamer section of
# docs/BENCHMARKS.md, run small (1080p, one run per row, short runs): it must
# end well and measure what its tables say, or the next regeneration of that
# section would fail or print rows it did not measure. Checked:
#   - both pre-drawn modes (the producer's own memory, the sink's memory) have
#     a dmapipe row of the requested N from 1 run of 1, with 0 pixel copies; a
#     run whose consumer did not receive all N frames counts as failed ("0 of
#     1"), so the row also says every frame arrived;
#   - the shm rows exist (measured, or a run reported failed with its reason:
#     long unthrottled shm runs deadlock, which is shm's, not the script's).
# Timings are not judged: a smoke run on a loaded machine proves nothing
# about speed.
#
# Usage: test-gst-bench.sh PATH-TO-bench-gst.py BUILDDIR

set -u

SCRIPT=${1:?usage: test-gst-bench.sh PATH-TO-bench-gst.py BUILDDIR}
BUILD=${2:?usage: test-gst-bench.sh PATH-TO-bench-gst.py BUILDDIR}
N=3000

# shellcheck source=testlib.sh
TAG=gst-bench
. "$(dirname "$0")/../testlib.sh"

command -v gst-launch-1.0 >/dev/null 2>&1 || skip "gst-launch-1.0 not found (gstreamer1.0-tools)"
command -v python3 >/dev/null 2>&1 || skip "python3 not found"
[ -x "$BUILD/tests/gst/bench-gst-source" ] || fail "no $BUILD/tests/gst/bench-gst-source"
case "$(gst-inspect-1.0 dmapipesrc 2>&1)" in
*"ASan runtime does not come first"*)
	skip "the plugin is built with sanitizers and gst-launch-1.0 is not: it cannot load it" ;;
esac

python3 "$SCRIPT" --build "$BUILD" --runs 1 --frames-1080p 60 --frames-direct $N \
	--timeout 20 --modes own,predrawn --sizes 1080p >"$DIR/out.log" 2>"$DIR/bench.log" ||
	fail "bench-gst.py failed"

for mode in "producer's own memory" "Frames drawn into the sink's memory"; do
	grep -q "$mode" "$DIR/out.log" || fail "no section for \"$mode\""
done
rows=$(grep -c "^| 1080p (1920x1080), N=$N | dmapipesink -> dmapipesrc | 1 of 1 | \*\*.*| 0 |\$" \
	"$DIR/out.log")
[ "$rows" = 2 ] || fail "$rows dmapipe rows of N=$N, 1 of 1 runs, 0 copies (want 2)"
ok "both pre-drawn modes: a dmapipe row of $N frames, every frame received, 0 copies"
rows=$(grep -c "^| 1080p (1920x1080), N=60 | shmsink -> shmsrc |" "$DIR/out.log")
[ "$rows" = 2 ] || fail "$rows shm rows (want 2)"
grep -q "transport cost .* per frame in this run" "$DIR/out.log" ||
	fail "the reading does not give the pre-drawn transport's range"
ok "the shm rows and the reading are there"

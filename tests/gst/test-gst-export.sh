#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Reading dmapipe export's files back with GStreamer, at sizes whose plane
# rows are not a multiple of 4 bytes (GStreamer's default strides):
#   - raw I420 318x242 and NV12 317x241: the rawvideoparse element the
#     sidecar gives (and the summary prints) yields every frame, each equal
#     (after videoconvert to AYUV, which has no row padding) to the frame
#     dmapipesrc receives when dmapipe play serves the same recording; the
#     element with only format, width and height misreads them (the test
#     would see it);
#   - the rawvideoparse line README.md shows is what export gives for that
#     recording;
#   - grey to y4m: 4:2:0 with neutral chroma, which y4mdec reads (every
#     luma byte the pattern, every chroma byte 128); --mono writes Cmono,
#     which Debian 12's y4mdec cannot read.
#
# Usage: test-gst-export.sh PATH-TO-dmapipe PATH-TO-README.md
# The GStreamer environment comes from tests/gst/meson.build.

set -u

DMAPIPE=${1:?usage: test-gst-export.sh PATH-TO-dmapipe PATH-TO-README.md}
README=${2:?usage: test-gst-export.sh PATH-TO-dmapipe PATH-TO-README.md}
N=12

# shellcheck source=testlib.sh
TAG=gst-export
. "$(dirname "$0")/../testlib.sh"

command -v gst-launch-1.0 >/dev/null 2>&1 || skip "gst-launch-1.0 not found (gstreamer1.0-tools)"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to parse the JSON sidecar"
for e in rawvideoparse checksumsink y4mdec videoconvert; do
	gst-inspect-1.0 $e >/dev/null 2>&1 || skip "GStreamer element $e not found"
done
case "$(gst-inspect-1.0 dmapipesrc 2>&1)" in
*"ASan runtime does not come first"*)
	skip "the plugin is built with sanitizers and gst-launch-1.0 is not: it cannot load it" ;;
esac
gst-inspect-1.0 dmapipesrc >/dev/null 2>&1 || fail "the dmapipe plugin does not load"

# record NAME FORMAT WxH: N test-pattern frames at 30 fps into $DIR/NAME.rec
record() {
	"$DMAPIPE" serve --socket "$DIR/rec.sock" --format "$2" --size "$3" --fps 30 \
		--frames $N --wait-consumers 1 -q >"$DIR/$1-serve.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_socket "$DIR/rec.sock"
	"$DMAPIPE" record --socket "$DIR/rec.sock" --policy queue:16 -o "$DIR/$1.rec" -q \
		--timeout 20000 >"$DIR/$1-record.log" 2>&1 || fail "record $1"
	wait
}

# checksums of the frames of a gst-launch-1.0 pipeline ending in checksumsink
sums() {
	eval "gst-launch-1.0 -q $1" 2>"$DIR/gst.err" | awk '{ print $2 }'
}

# The reference: the recording served by play, received by dmapipesrc (which
# maps the producer's strides from GstVideoMeta), in AYUV
reference() {
	"$DMAPIPE" play "$DIR/$1.rec" --socket "$DIR/play.sock" --speed max \
		--wait-consumers 1 -q >"$DIR/$1-play.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_socket "$DIR/play.sock"
	sums "dmapipesrc socket-path=$DIR/play.sock policy=block timeout=20000 ! videoconvert ! \
		video/x-raw,format=AYUV ! checksumsink" >"$DIR/$1-ref.sum"
	wait
	[ "$(wc -l <"$DIR/$1-ref.sum")" -eq $N ] || fail "$1: the reference has not $N frames"
}

raw() {
	name=$1
	fmt=$2
	size=$3
	record "$name" "$fmt" "$size"
	"$DMAPIPE" export "$DIR/$name.rec" -o "$DIR/$name.raw" >"$DIR/$name-export.log" 2>&1 ||
		fail "export $name"
	parse=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["gst_rawvideoparse"])' \
		"$DIR/$name.raw.json") || fail "$name: no rawvideoparse element in the sidecar"
	grep -qF "filesrc location=$DIR/$name.raw ! $parse ! " "$DIR/$name-export.log" ||
		fail "$name: export does not print the sidecar's element"
	reference "$name"
	sums "filesrc location=$DIR/$name.raw ! $parse ! videoconvert ! \
		video/x-raw,format=AYUV ! checksumsink" >"$DIR/$name-full.sum"
	cmp -s "$DIR/$name-full.sum" "$DIR/$name-ref.sum" ||
		fail "$name: the sidecar's rawvideoparse reads other frames: $(cat "$DIR/gst.err")"
	w=${size%x*}
	h=${size#*x}
	gstfmt=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["gst_format"])' \
		"$DIR/$name.raw.json")
	sums "filesrc location=$DIR/$name.raw ! rawvideoparse format=$gstfmt width=$w height=$h \
		framerate=30/1 ! videoconvert ! video/x-raw,format=AYUV ! checksumsink" \
		>"$DIR/$name-naive.sum"
	cmp -s "$DIR/$name-naive.sum" "$DIR/$name-ref.sum" &&
		fail "$name: rawvideoparse without strides read the frames right: nothing was tested"
	ok "$fmt $size raw: rawvideoparse as the sidecar says reads all $N frames as dmapipesrc gets them; without the strides $(wc -l <"$DIR/$name-naive.sum") misread"
}

raw i420 YUV420 318x242
raw nv12 NV12 317x241

# what README.md shows is the element export gives for 318x242 I420 at 30 fps
python3 - "$README" "$DIR/i420.raw.json" <<'PY' || fail "README.md's rawvideoparse line is not export's"
import json, re, sys
# a shell line continued in a comment block: "\", newline, "#"
text = re.sub(r"\\\n#?\s*", " ", open(sys.argv[1]).read())
want = json.load(open(sys.argv[2]))["gst_rawvideoparse"]
found = [" ".join(m.split()) for m in re.findall(r"(rawvideoparse use-sink-caps=false[^!]*)!", text)]
assert found, "README.md shows no rawvideoparse element"
assert all(f == " ".join(want.split()) for f in found), (found, want)
print("ok README.md's rawvideoparse element is what export gives")
PY

# ---- grey to y4m --------------------------------------------------------------------
record grey R8 318x242
"$DMAPIPE" export "$DIR/grey.rec" -o "$DIR/grey.y4m" >"$DIR/grey-export.log" 2>&1 || fail "export grey"
grep -q "neutral chroma" "$DIR/grey-export.log" || fail "grey: the summary does not say what was written"
[ "$(sums "filesrc location=$DIR/grey.y4m ! y4mdec ! checksumsink" | wc -l)" -eq $N ] ||
	fail "grey: y4mdec does not read $N frames: $(cat "$DIR/gst.err")"
python3 - "$DIR/grey.y4m" $N <<'PY' || fail "grey: content"
import sys
data = open(sys.argv[1], "rb").read()
n = int(sys.argv[2])
hdr, rest = data.split(b"\n", 1)
assert b"C420jpeg" in hdr.split() and b"W318" in hdr.split() and b"H242" in hdr.split(), hdr
w, h = 318, 242
cw, ch = (w + 1) // 2, (h + 1) // 2
size = 6 + w * h + 2 * cw * ch
assert len(rest) == n * size, (len(rest), n)
for k in range(n):
    frame = rest[k * size:(k + 1) * size]
    assert frame[:6] == b"FRAME\n"
    luma = frame[6:6 + w * h]
    seq = (luma[w] - 3) * 183 % 256  # row 1, byte 0 is 3 + 7 * seq (mod 256)
    for y in (1, h // 2, h - 1):
        assert luma[y * w:(y + 1) * w] == bytes((x + 3 * y + 7 * seq) % 256 for x in range(w)), (k, y)
    assert frame[6 + w * h:] == bytes([128]) * (2 * cw * ch), k
print("ok grey: y4m 4:2:0, luma the pattern, chroma neutral")
PY
"$DMAPIPE" export "$DIR/grey.rec" -o "$DIR/mono.y4m" --mono -q || fail "export --mono"
head -c 64 "$DIR/mono.y4m" | grep -q "Cmono" || fail "--mono: no Cmono header"
# y4mdec refuses Cmono, and gst-launch-1.0 then sometimes never exits (2 of
# 3 runs by hand on GStreamer 1.22): what it prints is all this looks at
timeout 30 gst-launch-1.0 -q filesrc location="$DIR/mono.y4m" ! y4mdec ! checksumsink \
	>/dev/null 2>"$DIR/gst.err"
ok "grey: y4mdec reads the 4:2:0 export; --mono writes Cmono ($(grep -c . "$DIR/gst.err") lines from y4mdec, which cannot read it)"

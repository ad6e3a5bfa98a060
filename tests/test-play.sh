#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# dmapipe play and dmapipe export, end to end on the host:
# - a test-pattern stream recorded, played back as fast as possible to a
#   block-policy consumer that verifies every frame; with memfd buffers on a
#   file system with O_DIRECT the replay copies nothing (counters 0);
# - a recorder killed with SIGKILL: the file played as it is (scanned) and
#   after --repair, every recovered frame verified;
# - a recording whose format changes three times, played and verified;
# - the recorded pace (and --speed 2) takes the recorded time; --loop
#   --frames serves more frames than recorded, each still verified; the
#   replay's timestamps are its own timeline (latency small, not the
#   recording's age);
# - export: y4m (header, frame count, every byte of the Y and chroma planes
#   of every frame against docs/PATTERN.md), raw NV12 with its sidecar,
#   --first/--count;
# - content compared by hashes (as the VM lane does for vivid): the CRC-32
#   of each frame's visible bytes logged by play and by consume equals the
#   one computed from the raw export;
# - the rest of FORMAT_INFO (colorimetry, siting, fields, aspect ratio):
#   probe says it, play -> record keeps it, export's y4m header carries
#   interlacing, aspect ratio and range;
# - probe: a recording of known formats, gaps, rate and checksums said as
#   it is; a changed byte found; a killed recording said to need --repair;
#   README.md's probe line run;
# - bad input: bad command lines (exit 2); a missing file, a file of
#   random bytes, an existing output without --force (left untouched), a
#   format y4m cannot carry, a range outside the recording (exit 1, each
#   with a clear message); outputs that are not regular files: a device
#   node written into and never replaced, a link kept, a directory refused,
#   "-" as stdout.
#
# Usage: test-play.sh PATH-TO-dmapipe PATH-TO-test-record

set -u

DMAPIPE=${1:?usage: test-play.sh PATH-TO-dmapipe PATH-TO-test-record}
TEST_RECORD=${2:?usage: test-play.sh PATH-TO-dmapipe PATH-TO-test-record}
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: python3 is needed to parse the JSON output"
	exit 77
fi

# shellcheck source=testlib.sh
TAG=play
. "$(dirname "$0")/testlib.sh"

# record NAME SERVE-ARGS...: a test-pattern stream recorded into $DIR/NAME.rec
record() {
	name=$1
	shift
	"$DMAPIPE" serve --socket "$DIR/rec.sock" --wait-consumers 1 -q "$@" >"$DIR/serve.log" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	wait_socket "$DIR/rec.sock"
	"$DMAPIPE" record "$DIR/rec.sock" -o "$DIR/$name.rec" --json --timeout 20000 \
		>"$DIR/$name-record.json" 2>"$DIR/$name-record.log" || fail "record $name"
	wait "$pid" 2>/dev/null
}

# play_consume NAME FILE PLAY-ARGS...: plays FILE to one verifying block-policy consumer
play_consume() {
	pc=$1
	file=$2
	shift 2
	bg "$pc-play" "$DMAPIPE" play "$file" --socket "$DIR/play.sock" --wait-consumers 1 \
		--json -q "$@"
	play=$LAST
	wait_socket "$DIR/play.sock"
	"$DMAPIPE" consume --socket "$DIR/play.sock" --policy block:4 --verify full --json -q \
		>"$DIR/$pc-consume.json" 2>"$DIR/$pc-consume.log" || fail "consume $pc"
	wait_ok "$play" "play $pc"
	# play's stderr is quiet: its log is the JSON summary
	mv "$DIR/$pc-play.log" "$DIR/$pc-play.json"
}

# ---- bad command lines ----------------------------------------------------------

"$DMAPIPE" play --help | grep -q "Usage: dmapipe play" || fail "play --help"
"$DMAPIPE" export --help | grep -q "Usage: dmapipe export" || fail "export --help"
expect_status 2 play --socket "$DIR/s"
grep -q "FILE" "$DIR/err.log" || fail "play: no complaint about the missing FILE"
expect_status 2 play "$DIR/x.rec" --socket "$DIR/s" --speed fast
expect_status 2 play "$DIR/x.rec" --socket "$DIR/s" --speed 0
expect_status 2 play "$DIR/x.rec" --socket "$DIR/s" --speed -1
expect_status 2 play "$DIR/x.rec" --socket "$DIR/s" --buffers 4 --queue-depth 4
expect_status 2 play "$DIR/x.rec" "$DIR/y.rec" --socket "$DIR/s"
expect_status 2 export "$DIR/x.rec"
expect_status 2 export "$DIR/x.rec" -o "$DIR/x.y4m" --y4m --raw
expect_status 2 export "$DIR/x.rec" -o "$DIR/x.y4m" --sidecar "$DIR/x.json"
ok "bad command lines"

# ---- bad files ----------------------------------------------------------------------

expect_status 1 play "$DIR/missing.rec" --socket "$DIR/s"
grep -q "No such file" "$DIR/err.log" || fail "play: missing file, no clear message"
head -c 65536 /dev/urandom >"$DIR/junk.rec"
expect_status 1 play "$DIR/junk.rec" --socket "$DIR/s"
grep -q "not a usable dmapipe recording" "$DIR/err.log" || fail "play: junk, no clear message"
[ -e "$DIR/s" ] && fail "play served a socket for a bad file"
expect_status 1 export "$DIR/missing.rec" -o "$DIR/m.y4m"
grep -q "No such file" "$DIR/err.log" || fail "export: missing file, no clear message"
expect_status 1 export "$DIR/junk.rec" -o "$DIR/j.y4m"
grep -q "not a usable dmapipe recording" "$DIR/err.log" || fail "export: junk, no clear message"
[ -e "$DIR/m.y4m" ] || [ -e "$DIR/j.y4m" ] && fail "export created an output for a bad file"
ok "bad files"

# ---- record, then play as fast as possible to a verifying consumer ---------------------

record a --size 1366x769 --format NV12 --fps 120 --frames 120
jcheck "$DIR/a-record.json" 'd["result"] == "ok" and d["frames_recorded"] >= 40'
play_consume a "$DIR/a.rec" --speed max
python3 - "$DIR/a-record.json" "$DIR/a-play.json" "$DIR/a-consume.json" <<'EOF' || fail "play a"
import json, sys
r, p, c = (json.load(open(f)) for f in sys.argv[1:4])
n = r["frames_recorded"]
assert p["result"] == "ok" and p["frames_served"] == p["frames_read"] == n, p
assert c["result"] == "ok" and c["end"] == "eos", c
# block policy: every frame of the recording reaches the consumer, verified
assert c["frames_received"] == c["frames_verified"] == n and c["frames_failed"] == 0, c
assert p["format_changes"] == 0 and p["read_errors"] == 0, p
# as fast as possible, each frame is stamped when it is served
assert c["latency_p50_us"] < 200000, c["latency_p50_us"]
if p["direct"] and p["memory"].startswith("memfd"):
    # the zero-copy claim: the disk wrote straight into the shared buffers
    assert p["bytes_copied"] == 0 and p["process_bytes_copied"] == 0, p
    assert p["paths"]["direct"]["bytes"] >= n * 1366 * 769 * 3 // 2, p
    assert p["paths"]["copy"]["bytes"] == 0, p
print("ok play: %d frames verified, %.0f MB/s, %s, copied %d bytes, direct %d bytes" %
      (n, p["mb_per_s"], p["allocator"], p["bytes_copied"], p["paths"]["direct"]["bytes"]))
EOF

# the same through the page cache: the paths say so
play_consume ab "$DIR/a.rec" --speed max --buffered
jcheck "$DIR/ab-play.json" 'd["result"] == "ok" and not d["direct"] and d["paths"]["buffered"]["bytes"] > 0 and d["paths"]["direct"]["bytes"] == 0'
jcheck "$DIR/ab-consume.json" 'd["frames_failed"] == 0 and d["frames_verified"] > 0'
ok "play --buffered"

# ---- the recorded pace ---------------------------------------------------------------

record pace --size 320x240 --format YUV420 --fps 50 --frames 40
play_consume pace "$DIR/pace.rec"
play_consume pace2 "$DIR/pace.rec" --speed 2
python3 - "$DIR/pace-record.json" "$DIR/pace-play.json" "$DIR/pace2-play.json" \
	"$DIR/pace-consume.json" <<'EOF' || fail "pace"
import json, sys
r, p1, p2, c = (json.load(open(f)) for f in sys.argv[1:5])
n = r["frames_recorded"]
span = (n - 1) / 50.0  # the producer's pace; its clock is the timestamps
assert c["frames_verified"] == n, c
# lower bounds only: a loaded machine may be slower, never faster
assert p1["elapsed_s"] >= 0.8 * span, (p1["elapsed_s"], span)
assert p2["elapsed_s"] >= 0.8 * span / 2 and p2["elapsed_s"] < p1["elapsed_s"], (p2, p1)
# the replay's own timeline: latency is the hand-off, not the recording's age
# (which is at least its 0.8 s span: the recording was made before the replay)
assert c["latency_p50_us"] < 200000, c["latency_p50_us"]
print("ok pace: %d frames in %.2f s (recorded %.2f s), at 2x %.2f s; latency p50 %.0f us" %
      (n, p1["elapsed_s"], span, p2["elapsed_s"], c["latency_p50_us"]))
EOF

# --loop with --frames: more frames than recorded, each verified by its sequence
play_consume loop "$DIR/pace.rec" --speed max --loop --frames 100
jcheck "$DIR/loop-play.json" 'd["frames_served"] == 100 and d["loops"] >= 2'
jcheck "$DIR/loop-consume.json" 'd["frames_received"] == d["frames_verified"] == 100'
ok "--loop --frames 100"

# ---- kill -9 mid-recording: play it scanned, and after --repair -------------------------

"$DMAPIPE" serve --socket "$DIR/rec.sock" --size 640x480 --fps 200 --wait-consumers 1 -q \
	>"$DIR/serve.log" 2>&1 &
SERVE=$!
PIDS="$PIDS $SERVE"
wait_socket "$DIR/rec.sock"
"$DMAPIPE" record --socket "$DIR/rec.sock" -o "$DIR/k.rec" --progress >"$DIR/k.log" 2>&1 &
REC=$!
wait_recorded "$DIR/k.log" 60
kill -9 $REC
wait $REC 2>/dev/null
kill $SERVE
wait $SERVE 2>/dev/null
"$DMAPIPE" record --check "$DIR/k.rec" --json >"$DIR/kcheck.json" 2>/dev/null || fail "check k.rec"
jcheck "$DIR/kcheck.json" 'd["scanned"] and d["frames"] >= 50'
play_consume k "$DIR/k.rec" --speed max
jcheck "$DIR/k-play.json" 'd["scanned"] and d["result"] == "ok"'
cp "$DIR/k.rec" "$DIR/k-killed.rec" # for probe, below
"$DMAPIPE" record --repair "$DIR/k.rec" -q >/dev/null || fail "repair"
play_consume k2 "$DIR/k.rec" --speed max
python3 - "$DIR/kcheck.json" "$DIR/k-consume.json" "$DIR/k2-play.json" "$DIR/k2-consume.json" <<'EOF' || fail "kill -9"
import json, sys
k, c1, p2, c2 = (json.load(open(f)) for f in sys.argv[1:5])
assert c1["frames_verified"] == c1["frames_received"] == k["frames"], (k, c1)
assert not p2["scanned"] and p2["frames_served"] == k["frames"], p2
assert c2["frames_verified"] == c2["frames_received"] == k["frames"], c2
print("ok kill -9: %d recovered frames played and verified, scanned and repaired" % k["frames"])
EOF

# ---- a format change inside the recording ----------------------------------------------

DMAPIPE_TEST_KEEP_FORMATS="$DIR/f.rec" "$TEST_RECORD" formats >"$DIR/formats.log" 2>&1 ||
	fail "making a recording whose format changes"
play_consume f "$DIR/f.rec" --speed max
jcheck "$DIR/f-play.json" 'd["result"] == "ok" and d["frames_served"] == 14 and d["format_changes"] == 3'
jcheck "$DIR/f-consume.json" 'd["frames_received"] == d["frames_verified"] == 14'
ok "format changes: 14 frames in 4 formats played and verified"

# ---- export -----------------------------------------------------------------------------

"$DMAPIPE" export "$DIR/pace.rec" -o "$DIR/pace.y4m" --json >"$DIR/y4m.json" 2>"$DIR/y4m.log" ||
	fail "export y4m"
jcheck "$DIR/y4m.json" 'd["container"] == "y4m" and d["process_bytes_copied"] == 0'
python3 - "$DIR/pace.y4m" "$DIR/pace-record.json" <<'EOF' || fail "y4m content"
import json, sys
data = open(sys.argv[1], "rb").read()
n = json.load(open(sys.argv[2]))["frames_recorded"]
hdr, rest = data.split(b"\n", 1)
f = hdr.split()
assert f[0] == b"YUV4MPEG2" and b"W320" in f and b"H240" in f and b"C420jpeg" in f, hdr
assert b"F50:1" in f, hdr  # the rate serve told the recorder (FORMAT_INFO), never a guess
w, h = 320, 240
planes = [(w, h), (w // 2, h // 2), (w // 2, h // 2)]
size = sum(a * b for a, b in planes)
assert len(rest) == n * (6 + size), (len(rest), n)
seqs = []
for k in range(n):
    frame = rest[k * (6 + size):(k + 1) * (6 + size)]
    assert frame[:6] == b"FRAME\n", frame[:6]
    # frames dropped while recording leave gaps: the sequence (mod 256) comes
    # from byte 0 of row 1, 3 + 7 * seq; 183 is the inverse of 7 mod 256
    seq = (frame[6 + w] - 3) * 183 % 256
    seqs.append(seq)
    off = 6
    for p, (pw, ph) in enumerate(planes):
        plane = frame[off:off + pw * ph]
        off += pw * ph
        for y in range(ph):
            row = plane[y * pw:(y + 1) * pw]
            x0 = 16 if (p == 0 and y == 0) else 0  # the stamp
            want = bytes((x + 3 * y + 7 * seq + 101 * p) % 256 for x in range(x0, pw))
            assert row[x0:] == want, (k, p, y)
assert seqs == sorted(seqs) and len(set(seqs)) == n, seqs
print("ok y4m: %d frames, every byte of the Y, U and V planes matches the pattern" % n)
EOF
# the nominal rate as a fraction: told by serve, stored by record, used by export
record ntsc --size 64x48 --format YUV420 --fps 30000/1001 --frames 4
jcheck "$DIR/ntsc-record.json" 'd["result"] == "ok" and d["frames_recorded"] == 4'
"$DMAPIPE" probe "$DIR/ntsc.rec" --json >"$DIR/ntsc-probe.json" 2>"$DIR/ntsc-probe.log" || fail "probe ntsc"
jcheck "$DIR/ntsc-probe.json" '(d["fps_nominal_num"], d["fps_nominal_den"]) == (30000, 1001)'
"$DMAPIPE" export "$DIR/ntsc.rec" -o "$DIR/ntsc.y4m" -q || fail "export ntsc"
head -n 1 "$DIR/ntsc.y4m" | grep -q " F30000:1001 " || fail "ntsc: y4m header $(head -c 60 "$DIR/ntsc.y4m")"
# play tells its consumers the rate (times --speed): a re-recording keeps it
for sp in 1 2; do
	bg "ntsc$sp-play" "$DMAPIPE" play "$DIR/ntsc.rec" --socket "$DIR/play.sock" \
		--wait-consumers 1 --speed "$sp" -q
	wait_socket "$DIR/play.sock"
	"$DMAPIPE" record "$DIR/play.sock" -o "$DIR/ntsc$sp-again.rec" --json --timeout 20000 \
		>"$DIR/ntsc$sp-again.json" 2>"$DIR/ntsc$sp-again.log" || fail "re-record ntsc at $sp"
	wait_ok "$LAST" "play ntsc at $sp"
	"$DMAPIPE" probe "$DIR/ntsc$sp-again.rec" --json >"$DIR/ntsc$sp-probe.json" 2>/dev/null ||
		fail "probe ntsc$sp"
done
jcheck "$DIR/ntsc1-probe.json" '(d["fps_nominal_num"], d["fps_nominal_den"]) == (30000, 1001)'
jcheck "$DIR/ntsc2-probe.json" '(d["fps_nominal_num"], d["fps_nominal_den"]) == (60000, 1001)'
ok "--fps 30000/1001: the recording keeps the producer's nominal rate, export writes it, play tells it"
# the rest of FORMAT_INFO (issue #15): serve's pattern says progressive, square pixels
jcheck "$DIR/ntsc-probe.json" '(d["interlace"], d["par_num"], d["par_den"], d["matrix"], d["range"]) == ("progressive", 1, 1, "unknown", "unknown")'
head -n 1 "$DIR/ntsc.y4m" | grep -q " Ip A1:1 C420jpeg$" || fail "ntsc: y4m header $(head -n 1 "$DIR/ntsc.y4m")"
# a recording told colorimetry, siting, interlacing and aspect ratio (tests/test-record.c
# format-info-sample): probe says them, play tells them, a re-recording keeps them, the
# y4m header carries what y4m can
DMAPIPE_TEST_FORMAT_INFO_SAMPLE="$DIR/fi.rec" "$TEST_RECORD" format-info-sample >"$DIR/fi.log" 2>&1 ||
	fail "making the format info sample"
FI_WANT='(d["fps_nominal_num"], d["fps_nominal_den"], d["par_num"], d["par_den"], d["matrix"], d["transfer"], d["primaries"], d["range"], d["chroma_site"], d["interlace"], d["field_order"]) == (30000, 1001, 4, 3, "bt709", "bt709", "bt709", "limited", "mpeg2", "interleaved", "top-first")'
"$DMAPIPE" probe "$DIR/fi.rec" --json >"$DIR/fi-probe.json" 2>"$DIR/fi-probe.log" || fail "probe fi"
jcheck "$DIR/fi-probe.json" "$FI_WANT"
"$DMAPIPE" probe "$DIR/fi.rec" >"$DIR/fi-probe.out" 2>&1 || fail "probe fi (human)"
grep -q "colour      matrix bt709, transfer bt709, primaries bt709, range limited, chroma siting mpeg2" "$DIR/fi-probe.out" &&
	grep -q "fields      interleaved, top-first; pixel aspect ratio 4:3" "$DIR/fi-probe.out" ||
	fail "probe fi: the human output lacks the format info: $(cat "$DIR/fi-probe.out")"
bg "fi-play" "$DMAPIPE" play "$DIR/fi.rec" --socket "$DIR/play.sock" --wait-consumers 1 -q
wait_socket "$DIR/play.sock"
"$DMAPIPE" record "$DIR/play.sock" -o "$DIR/fi-again.rec" --json --timeout 20000 \
	>"$DIR/fi-again.json" 2>"$DIR/fi-again.log" || fail "re-record fi"
wait_ok "$LAST" "play fi"
jcheck "$DIR/fi-again.json" 'd["result"] == "ok" and d["frames_recorded"] == 10'
"$DMAPIPE" probe "$DIR/fi-again.rec" --json >"$DIR/fi-again-probe.json" 2>/dev/null || fail "probe fi-again"
jcheck "$DIR/fi-again-probe.json" "$FI_WANT"
"$DMAPIPE" export "$DIR/fi.rec" -o "$DIR/fi.y4m" -q || fail "export fi"
head -n 1 "$DIR/fi.y4m" | grep -q "^YUV4MPEG2 W64 H48 F30000:1001 It A4:3 C420jpeg XCOLORRANGE=LIMITED$" ||
	fail "fi: y4m header $(head -n 1 "$DIR/fi.y4m")"
ok "colorimetry, siting, fields and aspect ratio: probe says them, play -> record keeps them, y4m carries I, A and the range"
# an existing output is not replaced, and is left as it was
printf 'keep me' >"$DIR/keep.y4m"
expect_status 1 export "$DIR/pace.rec" -o "$DIR/keep.y4m"
grep -q "exists" "$DIR/err.log" && grep -q -- "--force" "$DIR/err.log" || fail "exists: no clear message"
[ "$(cat "$DIR/keep.y4m")" = "keep me" ] || fail "export replaced an existing file"
"$DMAPIPE" export "$DIR/pace.rec" -o "$DIR/keep.y4m" --force -q || fail "export --force"
head -c 9 "$DIR/keep.y4m" | grep -q YUV4MPEG2 || fail "--force did not replace the file"
# only regular files are replaced: a device node is written into (it is
# /dev/null's), never renamed over; a link stays a link and the file it names
# is replaced; a directory is refused; "-" is stdout, the summary on stderr
if mknod "$DIR/null" c 1 3 2>/dev/null; then
	"$DMAPIPE" export "$DIR/pace.rec" -o "$DIR/null" --y4m --force -q || fail "export into a device node"
	[ -c "$DIR/null" ] || fail "export --force replaced a device node"
else
	echo "not tested: a device node as the output (mknod is not allowed here)"
fi
printf 'old' >"$DIR/target.y4m"
ln -s target.y4m "$DIR/link.y4m"
"$DMAPIPE" export "$DIR/pace.rec" -o "$DIR/link.y4m" --force -q || fail "export through a link"
[ -L "$DIR/link.y4m" ] || fail "export --force replaced the link itself"
head -c 9 "$DIR/target.y4m" | grep -q YUV4MPEG2 || fail "export through a link did not write the file"
mkdir "$DIR/adir.y4m"
expect_status 1 export "$DIR/pace.rec" -o "$DIR/adir.y4m" --force
grep -q "is a directory" "$DIR/err.log" && [ -d "$DIR/adir.y4m" ] || fail "a directory as the output"
"$DMAPIPE" export "$DIR/pace.rec" -o - --y4m >"$DIR/stdout.y4m" 2>"$DIR/stdout.log" || fail "export -o -"
cmp -s "$DIR/stdout.y4m" "$DIR/pace.y4m" || fail "export -o - wrote other bytes than the file export"
grep -q "export: " "$DIR/stdout.log" || fail "export -o -: no summary on stderr"
expect_status 2 export "$DIR/pace.rec" -o - --json
# y4m cannot carry NV12: a clear refusal and no file
expect_status 1 export "$DIR/a.rec" -o "$DIR/a.y4m"
grep -q "y4m cannot carry NV12" "$DIR/err.log" && grep -q -- "--raw" "$DIR/err.log" ||
	fail "NV12 to y4m: no clear message"
[ -e "$DIR/a.y4m" ] && fail "a refused export left a file"
expect_status 1 export "$DIR/pace.rec" -o "$DIR/r.y4m" --first 1000
grep -q "outside" "$DIR/err.log" || fail "range: no clear message"
expect_status 1 export "$DIR/f.rec" -o "$DIR/f.raw"
grep -q "format changes at frame" "$DIR/err.log" || fail "format change: no clear message"
ls "$DIR"/*.partial-* >/dev/null 2>&1 && fail "temporary files left behind"
ok "export refusals"

# raw NV12 with a sidecar, a range of it
"$DMAPIPE" export "$DIR/a.rec" -o "$DIR/a.nv12" --first 2 --count 5 --json >"$DIR/raw.json" \
	2>"$DIR/raw.log" || fail "export raw"
python3 - "$DIR/a.nv12" "$DIR/a.nv12.json" <<'EOF' || fail "raw content"
import json, sys
data = open(sys.argv[1], "rb").read()
s = json.load(open(sys.argv[2]))
w, h = 1366, 769
assert s["format"] == "dmapipe-raw" and s["fourcc"] == "NV12" and s["ffmpeg_pix_fmt"] == "nv12", s
assert s["width"] == w and s["height"] == h and s["frames"] == 5 == len(s["frame_list"]), s
ysize, uvsize = w * h, w * ((h + 1) // 2)  # NV12: (h+1)/2 rows of w bytes of UV
assert s["frame_size"] == ysize + uvsize and len(data) == 5 * s["frame_size"], (s, len(data))
for k, meta in enumerate(s["frame_list"]):
    seq = meta["sequence"]
    frame = data[k * s["frame_size"]:(k + 1) * s["frame_size"]]
    for y in (1, h // 2, h - 1):
        row = frame[y * w:(y + 1) * w]
        assert row == bytes((x + 3 * y + 7 * seq) % 256 for x in range(w)), (k, y)
    uv = frame[ysize:ysize + w]
    assert uv == bytes((x + 7 * seq + 101) % 256 for x in range(w)), k
print("ok raw: 5 frames of NV12 and their sidecar, rows match the pattern")
EOF

# ---- probe ---------------------------------------------------------------------------
# A recording with known content (tests/test-record.c probe-sample): 22
# frames in two formats, sequence 0..26 with 5 missing after 9, 30 fps by
# its timestamps and its nominal rate, a checksum on each frame. Then one
# changed byte in frame 3's pixels; a recording whose writer was killed; a
# file that is no recording; and README.md's probe lines, as written.
DMAPIPE_TEST_PROBE_SAMPLE="$DIR/ps.rec" "$TEST_RECORD" probe-sample >"$DIR/ps.log" 2>&1 ||
	fail "making the probe sample"
"$DMAPIPE" probe "$DIR/ps.rec" --json >"$DIR/probe.json" 2>"$DIR/probe.log" || fail "probe"
python3 - "$DIR/probe.json" <<'EOF' || fail "probe: what it says"
import json, sys
d = json.load(open(sys.argv[1]))
f = d["formats"]
assert d["closed"] and not d["needs_repair"] and d["damage"] is None, d
assert d["frames"] == 22 and d["sequence_first"] == 0 and d["sequence_last"] == 26, d
assert [(x["fourcc"], x["width"], x["height"], x["frames"], x["first_frame"]) for x in f] == \
    [("NV12", 320, 240, 20, 0), ("YUYV", 64, 48, 2, 20)], f
assert d["format_changes"] == 1, d
assert abs(d["fps"] - 30) < 0.01 and (d["fps_nominal_num"], d["fps_nominal_den"]) == (30, 1), d
assert abs(d["duration_s"] - 0.9) < 0.001, d
assert d["gaps"] == 1 and d["frames_missing"] == 5, d
assert d["gap_list"] == [{"frame": 10, "after_sequence": 9, "sequence": 15, "missing": 5}], d
assert d["frames_with_checksum"] == 22 and d["checksum_failures"] == 0, d
print("ok probe: formats, rate, duration, gaps and checksums as recorded")
EOF
"$DMAPIPE" probe "$DIR/ps.rec" >"$DIR/probe.out" 2>&1 || fail "probe (human)"
grep -q "30.000 fps measured" "$DIR/probe.out" && grep -q "sequence 9 -> 15 (5 missing)" "$DIR/probe.out" ||
	fail "probe: the human output lacks the rate or the gap"
# frame 3's pixels: records of 320x240 NV12 are a 4 KiB header and 29 blocks
python3 - "$DIR/ps.rec" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    off = 4096 + 3 * 30 * 4096 + 4096 + 5000
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x55]))
EOF
expect_status 1 probe "$DIR/ps.rec" --json
jcheck "$DIR/out.log" 'd["damaged_frames"] == [3] and d["checksum_failures"] == 1'
expect_status 0 probe "$DIR/ps.rec" --headers-only
expect_status 0 probe "$DIR/k-killed.rec" --json
jcheck "$DIR/out.log" 'd["needs_repair"] and not d["closed"] and d["frames"] > 0'
expect_status 1 probe "$DIR/junk.rec"
grep -q "not a usable dmapipe recording" "$DIR/err.log" || fail "probe of junk: no clear message"
expect_status 2 probe
expect_status 2 probe "$DIR/ps.rec" "$DIR/k.rec"
# README.md's probe lines, on this recording
README_MD="$(dirname "$0")/../README.md"
grep '^dmapipe probe ' "$README_MD" >"$DIR/readme-probe.txt" || fail "README.md shows no dmapipe probe line"
while read -r cmd args; do
	# shellcheck disable=SC2086 # the README's words
	"$DMAPIPE" $(echo "$args" | sed "s|cam.rec|$DIR/ps.rec|g") >"$DIR/readme-probe.out" 2>&1
	[ $? -le 1 ] && grep -q "frames      22" "$DIR/readme-probe.out" ||
		fail "README.md's '$cmd $args' does not run: $(cat "$DIR/readme-probe.out")"
done <"$DIR/readme-probe.txt"
ok "probe: damage found by checksum, a killed recording needs --repair, junk refused, README's line runs"

# ---- per-frame hashes: recorded (the raw export), served (play), received (consume) ----------

"$DMAPIPE" export "$DIR/pace.rec" -o "$DIR/pace.raw" -q || fail "export pace raw"
"$DMAPIPE" play "$DIR/pace.rec" --socket "$DIR/play.sock" --speed max --wait-consumers 1 -q \
	--hash-log "$DIR/served.txt" >"$DIR/hash-play.log" 2>&1 &
PLAY=$!
PIDS="$PIDS $PLAY"
wait_socket "$DIR/play.sock"
"$DMAPIPE" consume --socket "$DIR/play.sock" --policy block:4 --verify none -q \
	--hash-log "$DIR/received.txt" >/dev/null 2>"$DIR/hash-consume.log" || fail "consume --hash-log"
wait_ok $PLAY "play --hash-log"
python3 - "$DIR/pace.raw" "$DIR/pace.raw.json" "$DIR/served.txt" "$DIR/received.txt" <<'EOF' || fail "hashes"
import json, sys, zlib
data = open(sys.argv[1], "rb").read()
s = json.load(open(sys.argv[2]))
n, size = s["frames"], s["frame_size"]
recorded = {f["sequence"]: "%08x" % zlib.crc32(data[k * size:(k + 1) * size])
            for k, f in enumerate(s["frame_list"])}
def load(path):
    return {int(a): b for a, b in (line.split() for line in open(path))}
served, received = load(sys.argv[3]), load(sys.argv[4])
assert len(recorded) == n and len(set(recorded.values())) == n, "frames not distinct"
assert served == recorded, (served, recorded)
assert received == recorded, (received, recorded)
print("ok hashes: %d frames, recorded == served == received" % n)
EOF

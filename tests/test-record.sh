#!/bin/sh
# SPDX-License-Identifier: MIT
#
# dmapipe record: a test-pattern producer recorded by another process and
# every frame verified from the file; a recorder killed with SIGKILL, its
# file checked (scanned) and repaired; a full file system (exit 3, a
# consistent file); bad command lines (exit 2) and bad files (exit 1);
# outputs: only regular files replaced, and only by a recording that holds
# frames; device nodes, FIFOs, directories and links left as they were;
# "-" as stdout; the disk check (a write test before the first frame, a
# warning for a stream faster than the disk, --no-disk-check, none for
# stdout); --check on content that is not the pattern (passes, says
# what it could not check), with --checksum (finds 256 KiB of damage), on a
# file cut after it was closed (fails), and --repair of an overwritten
# superblock.
#
# Usage: test-record.sh PATH-TO-dmapipe

set -u

DMAPIPE=${1:?usage: test-record.sh PATH-TO-dmapipe}
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: python3 is needed to parse the JSON output"
	exit 77
fi

# shellcheck source=testlib.sh
TAG=record
. "$(dirname "$0")/testlib.sh"

# ---- bad command lines and bad files -----------------------------------------

"$DMAPIPE" record --help | grep -q "Usage: dmapipe record" || fail "record --help"
# no --socket: the stream "default", waited for and named when it is not there
XDG_RUNTIME_DIR="$DIR/xdg" expect_status 1 record -o "$DIR/x.rec" --timeout 300
grep -q "no producer on $DIR/xdg/dmapipe/default after .*: no such socket" "$DIR/err.log" ||
	fail "record without --socket: $(cat "$DIR/err.log")"
expect_status 2 record --socket "$DIR/s"
expect_status 2 record --socket "$DIR/s" -o "$DIR/x.rec" --policy block:2
expect_status 2 record --socket "$DIR/s" -o "$DIR/x.rec" --direct --buffered
expect_status 2 record --socket "$DIR/s" -o "$DIR/x.rec" --queue-depth 0
expect_status 2 record --check "$DIR/x.rec" --repair "$DIR/x.rec"
expect_status 2 record --check "$DIR/x.rec" --verify most
[ -e "$DIR/x.rec" ] && fail "a usage error created the file"
expect_status 1 record --check "$DIR/missing.rec"
head -c 65536 /dev/urandom >"$DIR/junk.rec"
expect_status 1 record --check "$DIR/junk.rec"
grep -q "not a usable dmapipe recording" "$DIR/err.log" || fail "junk: no clear message"
ok "bad command lines and files"

# ---- record a stream, verify every frame from the file -----------------------

S="$DIR/cam.sock"
# 60 fps (95 MB/s): a recorder never stalls a live producer, so when the disk
# is busy frames are dropped and counted (a loaded CI machine dropped 58 of
# 150 at 120 fps, and 94 of 150 at 60 fps under ASan at load 10: how many
# get recorded is the disk's rate, which no test asserts). What must hold:
# every frame is either recorded or counted as dropped, the recording has
# frames, and every frame in it verifies
"$DMAPIPE" serve --socket "$S" --size 1366x769 --format NV12 --fps 60 --frames 150 \
	--wait-consumers 1 -q >"$DIR/serve.log" 2>&1 &
PIDS="$PIDS $!"
wait_socket "$S"
"$DMAPIPE" record "$S" -o "$DIR/a.rec" --json --timeout 20000 >"$DIR/record.json" \
	2>"$DIR/record.log" || fail "record"
jcheck "$DIR/record.json" 'd["result"] == "ok" and d["end"] == "eos" and d["frames_recorded"] >= 10'
jcheck "$DIR/record.json" 'd["frames_recorded"] + d["frames_dropped"] == 150'
jcheck "$DIR/record.json" 'd["mode"] != "direct" or (d["bytes_copied"] == 0 and d["process_bytes_copied"] == 0 and d["paths"]["direct"]["bytes"] > 0)'
"$DMAPIPE" record --check "$DIR/a.rec" --json >"$DIR/check.json" 2>"$DIR/check.log" ||
	fail "check"
python3 - "$DIR/record.json" "$DIR/check.json" <<'EOF' || fail "record and check disagree"
import json, sys
r = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
assert c["result"] == "ok" and c["closed"] and not c["scanned"], c
assert c["frames"] == r["frames_recorded"] == c["frames_verified"], (r, c)
assert c["sequence_first"] == 0 and c["sequence_last"] == 149, c
EOF
ok "record $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["frames_recorded"], "frames,", d["mode"])' "$DIR/record.json")"

# the README's line: --duration ends the recording (the end says so) and
# --progress reports on the way; the progress line comes every second
"$DMAPIPE" serve --socket "$S" --size 320x240 --fps 30 -q >"$DIR/serve.log" 2>&1 &
SERVE=$!
PIDS="$PIDS $SERVE"
wait_socket "$S"
"$DMAPIPE" record --socket "$S" -o "$DIR/d.rec" --duration 2 --progress --json \
	>"$DIR/d.json" 2>"$DIR/d.log" || fail "record --duration: $(cat "$DIR/d.log")"
kill $SERVE
wait $SERVE 2>/dev/null
jcheck "$DIR/d.json" 'd["result"] == "ok" and d["end"] == "duration" and d["frames_recorded"] > 0'
grep -q "^record: [0-9]* frames" "$DIR/d.log" || fail "--progress printed no progress line"
"$DMAPIPE" record --check "$DIR/d.rec" -q >/dev/null || fail "check of the --duration recording"
ok "--duration 2 --progress"

# --buffer over a socket: frames at the rate the producer states (30 fps
# here), not at one measured over six frames, which is noisy on a loaded
# machine and may ask one frame more than the producer grants
"$DMAPIPE" serve --socket "$S" --size 320x240 --fps 30 --max-in-flight 15 -q \
	>"$DIR/serve.log" 2>&1 &
SERVE=$!
PIDS="$PIDS $SERVE"
wait_socket "$S"
"$DMAPIPE" record --socket "$S" -o "$DIR/b.rec" --duration 1 --buffer 500ms --json \
	>"$DIR/b.json" 2>"$DIR/b.log" || fail "record --buffer 500ms: $(cat "$DIR/b.log")"
kill $SERVE
wait $SERVE 2>/dev/null
grep -q "^record: buffer of 15 frames (.*, 500 ms at the 30.0 fps the producer states)" \
	"$DIR/b.log" || fail "--buffer 500ms at 30 fps: $(cat "$DIR/b.log")"
jcheck "$DIR/b.json" 'd["result"] == "ok" and d["buffer_frames"] == 15'
ok "--buffer 500ms: 15 frames at the producer's 30 fps"

# an existing file is not replaced without --force
"$DMAPIPE" serve --socket "$S" --size 320x240 --fps 100 --frames 50 --wait-consumers 1 -q \
	>"$DIR/serve.log" 2>&1 &
SERVE=$!
PIDS="$PIDS $SERVE"
wait_socket "$S"
expect_status 1 record --socket "$S" -o "$DIR/a.rec"
grep -q "force" "$DIR/err.log" || fail "existing file: no hint at --force"
"$DMAPIPE" record --socket "$S" -o "$DIR/a.rec" --force --buffered -q >"$DIR/out.log" 2>&1 ||
	fail "record --force --buffered"
grep -q "buffered I/O" "$DIR/out.log" || fail "buffered mode not reported"
"$DMAPIPE" record --check "$DIR/a.rec" -q >/dev/null || fail "check of the buffered recording"
wait "$SERVE" 2>/dev/null
ok "--force and --buffered"

# ---- the disk check: a write test before the first frame --------------------------

# the first recording's: made, and the stream's need is its frames' size at its rate
python3 - "$DIR/record.json" <<'EOF' || fail "the disk check of the first recording"
import json, sys
d = json.load(open(sys.argv[1]))["disk_check"]
assert d["method"] == "probe" and d["skipped"] is None, d
assert d["verdict"] in ("ok", "too-slow") and d["bytes"] > 0 and d["bytes_per_s"] > 0, d
need = 1366 * 769 * 3 // 2 * 60
assert need <= d["need_bytes_per_s"] <= need * 1.1, (d, need)
EOF
# a stream no disk here takes (4K NV12 at 2000 fps: 25 GB/s): one warning, then the
# recording goes on, dropping what the disk cannot take
"$DMAPIPE" serve --socket "$S" --size 3840x2160 --fps 2000 --predrawn --frames 40 \
	--wait-consumers 1 -q >"$DIR/serve.log" 2>&1 &
SERVE=$!
PIDS="$PIDS $SERVE"
wait_socket "$S"
"$DMAPIPE" record "$S" -o "$DIR/fast.rec" --json >"$DIR/fast.json" 2>"$DIR/fast.log" ||
	fail "record of a stream faster than the disk: $(cat "$DIR/fast.log")"
wait $SERVE
[ "$(grep -c "warning: disk check: the file system of $DIR/fast.rec took .* MB/s in a .* ms write test; the stream needs .* MB/s (2000 fps): frames will be dropped once the buffer is full" "$DIR/fast.log")" = 1 ] ||
	fail "no single disk-check warning: $(cat "$DIR/fast.log")"
jcheck "$DIR/fast.json" 'd["result"] == "ok" and d["disk_check"]["verdict"] == "too-slow" and \
d["disk_check"]["need_bytes_per_s"] > d["disk_check"]["bytes_per_s"] and d["frames_recorded"] > 0'
# --no-disk-check: none made, and said so
"$DMAPIPE" serve --socket "$S" --size 320x240 --fps 30 --frames 15 --wait-consumers 1 -q \
	>"$DIR/serve.log" 2>&1 &
SERVE=$!
PIDS="$PIDS $SERVE"
wait_socket "$S"
"$DMAPIPE" record "$S" -o "$DIR/nocheck.rec" --no-disk-check --json >"$DIR/nocheck.json" \
	2>"$DIR/nocheck.log" || fail "record --no-disk-check"
wait $SERVE
jcheck "$DIR/nocheck.json" 'd["disk_check"]["method"] is None and \
d["disk_check"]["skipped"] == "--no-disk-check" and d["disk_check"]["verdict"] is None'
grep -q "disk check" "$DIR/nocheck.log" && fail "--no-disk-check: $(cat "$DIR/nocheck.log")"
ok "disk check: made before the first frame, the stream's need measured, one warning for a stream too fast, --no-disk-check"

# ---- outputs that never destroy what is not theirs -----------------------------
# A producer that never sends a frame (it waits for a second consumer): the
# recorder is set up, then times out. A device node, a FIFO and a directory
# named as the output are refused before anything is written, and stay; a
# failed recording leaves an old file as it was and no temporary file; a
# link stays a link; "-" is stdout, which must be a regular file.
"$DMAPIPE" serve --socket "$DIR/idle.sock" --size 320x240 --fps 30 --wait-consumers 2 -q \
	>"$DIR/idle-serve.log" 2>&1 &
IDLE=$!
PIDS="$PIDS $IDLE"
wait_socket "$DIR/idle.sock"
if mknod "$DIR/null" c 1 3 2>/dev/null; then
	expect_status 1 record --socket "$DIR/idle.sock" -o "$DIR/null" --force --timeout 500
	grep -q "not a regular file\|character device" "$DIR/err.log" || fail "device node: no clear message"
	[ -c "$DIR/null" ] || fail "record --force removed or replaced a device node"
else
	echo "not tested: a device node as the output (mknod is not allowed here)"
fi
mkfifo "$DIR/fifo"
expect_status 1 record --socket "$DIR/idle.sock" -o "$DIR/fifo" --force --timeout 500
[ -p "$DIR/fifo" ] || fail "record --force replaced a FIFO"
mkdir "$DIR/adir"
expect_status 1 record --socket "$DIR/idle.sock" -o "$DIR/adir" --force --timeout 500
[ -d "$DIR/adir" ] || fail "record --force replaced a directory"
sum=$(cksum <"$DIR/a.rec")
expect_status 1 record --socket "$DIR/idle.sock" -o "$DIR/a.rec" --force --timeout 500
grep -q "not written" "$DIR/out.log" || fail "timeout: the summary does not say the file was not written"
[ "$(cksum <"$DIR/a.rec")" = "$sum" ] || fail "a failed record --force changed the old recording"
# Ctrl-C before the first frame is no failure, and still replaces nothing
"$DMAPIPE" record --socket "$DIR/idle.sock" -o "$DIR/a.rec" --force -q >"$DIR/int.log" 2>&1 &
REC=$!
sleep 0.5
kill -INT $REC
wait $REC || fail "record interrupted before its first frame exited $?"
[ "$(cksum <"$DIR/a.rec")" = "$sum" ] || fail "an interrupted record --force replaced the old recording"
ln -s a.rec "$DIR/link.rec"
expect_status 1 record --socket "$DIR/idle.sock" -o "$DIR/link.rec" --force --timeout 500
[ -L "$DIR/link.rec" ] && [ "$(cksum <"$DIR/a.rec")" = "$sum" ] || fail "a failed record through a link"
expect_status 2 record --socket "$DIR/idle.sock" -o - --json
"$DMAPIPE" record --socket "$DIR/idle.sock" -o - --timeout 500 2>"$DIR/pipe.log" | cat >/dev/null
grep -q "stdout is not a regular file" "$DIR/pipe.log" || fail "a recording into a pipe: no clear message"
"$DMAPIPE" record --socket "$DIR/idle.sock" -o - --timeout 500 >>"$DIR/append.rec" 2>"$DIR/append.log"
grep -q "appending" "$DIR/append.log" || fail "a recording into stdout opened with >>: no clear message"
kill $IDLE
wait $IDLE 2>/dev/null
ls "$DIR"/*.partial-* >/dev/null 2>&1 && fail "a failed recording left a temporary file"
# a recording through a link replaces the file it names; "-" to a regular file
"$DMAPIPE" serve --socket "$S" --size 320x240 --fps 100 --frames 20 --wait-consumers 1 -q \
	>"$DIR/serve.log" 2>&1 &
SERVE=$!
PIDS="$PIDS $SERVE"
wait_socket "$S"
"$DMAPIPE" record --socket "$S" -o "$DIR/link.rec" --force -q >"$DIR/link.log" 2>&1 ||
	fail "record --force through a link"
wait "$SERVE" 2>/dev/null
[ -L "$DIR/link.rec" ] || fail "record --force replaced the link itself"
[ "$(cksum <"$DIR/a.rec")" != "$sum" ] || fail "record --force through a link did not replace the file"
"$DMAPIPE" record --check "$DIR/a.rec" --json >"$DIR/lcheck.json" 2>/dev/null || fail "check after the link"
jcheck "$DIR/lcheck.json" 'd["frames"] > 0 and d["closed"]'
"$DMAPIPE" serve --socket "$S" --size 320x240 --fps 100 --frames 20 --wait-consumers 1 -q \
	>"$DIR/serve.log" 2>&1 &
SERVE=$!
PIDS="$PIDS $SERVE"
wait_socket "$S"
"$DMAPIPE" record --socket "$S" -o - >"$DIR/stdout.rec" 2>"$DIR/stdout.log" || fail "record -o -"
wait "$SERVE" 2>/dev/null
grep -q "record: ok" "$DIR/stdout.log" || fail "record -o -: no summary on stderr"
grep -q "disk check  not made: the recording goes to stdout" "$DIR/stdout.log" ||
	fail "record -o -: the disk check did not say why it was not made"
"$DMAPIPE" record --check "$DIR/stdout.rec" --json >"$DIR/scheck.json" 2>/dev/null || fail "check of -o -"
jcheck "$DIR/scheck.json" 'd["frames"] > 0 and d["closed"]'
ok "outputs: device node, FIFO, directory refused and kept; a failed --force keeps the old file; links kept; - is stdout"

# ---- --check: what it can and cannot tell ----------------------------------------
# A stream that is not the test pattern (predrawn: buffer k holds pattern
# frame k) checks by default: its frames are read and counted, and --check
# says they could not be compared with anything. With --checksum they are
# compared with their checksums: 256 KiB of random bytes in the middle of the
# file fail it (they pass without a checksum: nothing says what the pixels
# were). A closed recording cut short afterwards fails; one whose first
# block was overwritten fails, --repair recovers every frame from the frame
# headers, and it checks after.
rec_predrawn() {
	"$DMAPIPE" serve --socket "$S" --size 640x480 --format NV12 --fps 100 --frames 30 \
		--predrawn --wait-consumers 1 -q >"$DIR/serve.log" 2>&1 &
	SERVE=$!
	PIDS="$PIDS $SERVE"
	wait_socket "$S"
	"$DMAPIPE" record --socket "$S" --policy queue:30 -o "$@" -q --json \
		>"$DIR/p-record.json" 2>"$DIR/p-record.log" || fail "record $*"
	wait "$SERVE" 2>/dev/null
}
rec_predrawn "$DIR/p.rec"
"$DMAPIPE" record --check "$DIR/p.rec" >"$DIR/pcheck.out" 2>"$DIR/pcheck.log" ||
	fail "--check failed a recording that is not the test pattern"
grep -q "not checked" "$DIR/pcheck.out" || fail "--check does not say what it could not check"
rec_predrawn "$DIR/sum.rec" --checksum
jcheck "$DIR/p-record.json" 'd["frames_checksummed"] == d["frames_recorded"] > 0 and d["checksum_cpu_ns"] > 0'
"$DMAPIPE" record --check "$DIR/sum.rec" --json >"$DIR/sumcheck.json" 2>/dev/null || fail "--check --checksum"
jcheck "$DIR/sumcheck.json" 'd["frames_verified_checksum"] == d["frames"] == d["frames_verified"] > 0'
size=$(stat -c %s "$DIR/p.rec")
for f in p sum; do
	head -c 262144 /dev/urandom | dd of="$DIR/$f.rec" bs=4096 seek=$((size / 4096 / 2)) \
		conv=notrunc status=none
done
"$DMAPIPE" record --check "$DIR/p.rec" -q >/dev/null 2>&1 ||
	fail "damage without checksums: --check cannot know, and must not claim a failure"
expect_status 1 record --check "$DIR/sum.rec"
grep -q "differ from the checksum" "$DIR/err.log" || fail "damaged pixels: no clear message"
rec_predrawn "$DIR/cut.rec"
head -c $(($(stat -c %s "$DIR/cut.rec") - 4096)) "$DIR/cut.rec" >"$DIR/cut2.rec"
expect_status 1 record --check "$DIR/cut2.rec"
grep -q "cut after it was closed" "$DIR/out.log" || fail "a truncated recording: no clear message"
expect_status 0 record --check "$DIR/cut.rec" -q
frames=$(json_u64 "$DIR/p-record.json" frames_recorded)
head -c 4096 /dev/urandom | dd of="$DIR/cut.rec" conv=notrunc status=none
expect_status 1 record --check "$DIR/cut.rec"
grep -q -- "--repair recovers it" "$DIR/err.log" || fail "a damaged superblock: no hint at --repair"
"$DMAPIPE" record --repair "$DIR/cut.rec" >"$DIR/repair-sb.out" 2>&1 || fail "repair of a damaged superblock"
grep -q "$frames frames recovered" "$DIR/repair-sb.out" || fail "repair did not recover all $frames frames"
"$DMAPIPE" record --check "$DIR/cut.rec" --verify full --json >"$DIR/sbcheck.json" 2>/dev/null &&
	fail "the predrawn frames passed --verify full"
"$DMAPIPE" record --check "$DIR/cut.rec" --json >"$DIR/sbcheck.json" 2>/dev/null ||
	fail "--check after repairing the superblock"
jcheck "$DIR/sbcheck.json" "d['frames'] == $frames and d['closed'] and d['damage'] is None"
ok "--check: other content counted, a checksum finds damaged pixels, a cut or damaged file fails, --repair rebuilds a superblock"

# ---- kill -9 mid-recording, check (scan), repair ------------------------------

"$DMAPIPE" serve --socket "$S" --size 640x480 --fps 200 --wait-consumers 1 -q \
	>"$DIR/serve.log" 2>&1 &
SERVE=$!
PIDS="$PIDS $SERVE"
wait_socket "$S"
"$DMAPIPE" record --socket "$S" -o "$DIR/k.rec" --progress >"$DIR/k.log" 2>&1 &
REC=$!
wait_recorded "$DIR/k.log" 60
kill -9 $REC
wait $REC 2>/dev/null
kill $SERVE
wait "$SERVE" 2>/dev/null
"$DMAPIPE" record --check "$DIR/k.rec" --json >"$DIR/kcheck.json" 2>"$DIR/kcheck.log" ||
	fail "check of the killed recording"
jcheck "$DIR/kcheck.json" 'd["scanned"] and not d["closed"] and d["frames"] >= 50 and d["frames_verified"] == d["frames"]'
grep -q "record: [0-9]* frames" "$DIR/k.log" || fail "no progress line"
"$DMAPIPE" record --repair "$DIR/k.rec" --json >"$DIR/repair.json" 2>"$DIR/repair.log" ||
	fail "repair"
jcheck "$DIR/repair.json" 'd["repaired"]'
"$DMAPIPE" record --check "$DIR/k.rec" --json >"$DIR/kcheck2.json" 2>/dev/null || fail "check after repair"
python3 - "$DIR/kcheck.json" "$DIR/kcheck2.json" <<'EOF' || fail "repair lost frames"
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert b["closed"] and not b["scanned"] and b["frames"] == a["frames"] == b["frames_verified"], (a, b)
EOF
"$DMAPIPE" record --repair "$DIR/k.rec" | grep -q "nothing to repair" || fail "second repair"
ok "kill -9: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"])' "$DIR/kcheck.json") frames recovered and verified, repaired"

# ---- a full file system: exit 3 and a consistent file ------------------------------

mkdir "$DIR/small"
if mount -t tmpfs -o size=8m dmapipe-test "$DIR/small" 2>"$DIR/mount.err"; then
	"$DMAPIPE" serve --socket "$S" --size 640x480 --fps 200 --wait-consumers 1 -q \
		>"$DIR/serve.log" 2>&1 &
	SERVE=$!
	PIDS="$PIDS $SERVE"
	wait_socket "$S"
	"$DMAPIPE" record --socket "$S" -o "$DIR/small/full.rec" --json >"$DIR/full.json" \
		2>"$DIR/full.log"
	status=$?
	kill $SERVE
	wait $SERVE 2>/dev/null
	[ $status -eq 3 ] || { umount "$DIR/small"; fail "full disk: exit $status, expected 3"; }
	grep -q "full" "$DIR/full.log" || { umount "$DIR/small"; fail "full disk: no message"; }
	"$DMAPIPE" record --check "$DIR/small/full.rec" --json >"$DIR/fcheck.json" 2>/dev/null
	status=$?
	umount "$DIR/small"
	[ $status -eq 0 ] || fail "check of the full recording"
	python3 - "$DIR/full.json" "$DIR/fcheck.json" <<'EOF' || fail "full disk: frames lost"
import json, sys
r = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
assert r["result"] == "disk-full" and c["frames"] == r["frames_recorded"] > 10, (r, c)
EOF
	ok "full disk: exit 3, every recorded frame verified"
else
	echo "not tested: full disk (cannot mount a tmpfs: $(cat "$DIR/mount.err"))"
fi

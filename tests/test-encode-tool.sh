#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `dmapipe encode` and `dmapipe run` end to end, with vicodec's FWHT encoder
# (VM lane; 77 without vicodec, vivid or dmapipe_vcap):
#   - encode --device: vcap frames imported (0 bytes copied), every packet
#     a 640x480 FWHT frame;
#   - a stride the encoder cannot take (1008-pixel rows padded to 1024):
#     negotiated away (import, 0 copied); with --no-negotiate the counted
#     copy with the reason; with --strict too, exit 1 and a clear error;
#   - encode --socket from `dmapipe serve` (pattern buffers, 64-byte aligned
#     rows): 640x480 imports; 1008x480 imports too, the encoder stating its
#     packed rows (CONSTRAINTS) and serve making a new buffer generation for
#     them, 0 bytes copied; with --no-negotiate it copies with the reason,
#     and --strict then fails;
#   - run: vivid -> encode + record + serve, with another process
#     consuming the served stream; the recording checks, nothing copied;
#   - the bitstream through the storage writer (--container dmapipe): encode
#     --device to a recording (record --check lists it, export gives a valid
#     FWHT bitstream, no byte copied by the CPU); and run with two encoders
#     on one stream, one plain and one recorded: the exported recording is
#     byte-identical to the plain bitstream (FWHT is deterministic);
#   - encode --serve: the packets served on a socket as FWHT frames in the
#     encoder's own buffers, received by `dmapipe consume` in another process.
# Bad input tried: no input, two inputs, no output, --strict with --io copy,
# bad --io, --ctrl without '=', bad pipeline descriptions, a bad
# --container, a recording into a pipe, a bitstream recording exported as
# y4m; an existing output without --force, and one a failed --force run
# must leave as it was (on the host too); --buffer/--buffer-mb and run's
# buffer=/buffer-mb= with bad values, a duration without a rate, a size over
# half the memory, and a buffer --mlock cannot lock (on the host too).
#
# Usage: test-encode-tool.sh DMAPIPE
set -u
TOOL=$1
TAG=encode-tool
. "$(dirname "$0")/testlib.sh"

# FWHT frames in a bitstream, each checked: magic, WxH, size field
fwht_frames() {
	python3 - "$1" "$2" "$3" <<-'PY'
	import struct, sys
	data, w, h = open(sys.argv[1], 'rb').read(), int(sys.argv[2]), int(sys.argv[3])
	pos = n = 0
	while pos < len(data):
	    hdr = struct.unpack_from('>11I', data, pos)
	    if hdr[0] != 0x4f4f4f4f or hdr[1] != 0xffffffff:
	        sys.exit(f'frame {n}: no FWHT magic at {pos}')
	    if (hdr[3], hdr[4]) != (w, h):
	        sys.exit(f'frame {n}: {hdr[3]}x{hdr[4]}, want {w}x{h}')
	    pos += 44 + hdr[10]
	    n += 1
	if pos != len(data):
	    sys.exit(f'the last frame is cut: {pos} > {len(data)}')
	print(n)
	PY
}

# ---- bad input (no device needed) ------------------------------------------------
# no input named: the stream "default" (no encoder here, or no producer there: 1)
XDG_RUNTIME_DIR="$DIR/xdg" "$TOOL" encode -o "$DIR/x.fwht" --timeout 200 >/dev/null 2>&1
[ $? -eq 1 ] || fail "encode without input: not the default stream"
"$TOOL" encode -s @a -d /dev/video0 -o x >/dev/null 2>&1; [ $? -eq 2 ] || fail "two inputs accepted"
"$TOOL" encode -s @a >/dev/null 2>&1; [ $? -eq 2 ] || fail "no output accepted"
"$TOOL" encode -s @a -o x --strict --io copy >/dev/null 2>&1; [ $? -eq 2 ] || fail "--strict --io copy accepted"
"$TOOL" encode -s @a -o x --io dmabuf >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --io accepted"
"$TOOL" encode -s @a -o x --ctrl 12 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--ctrl without = accepted"
"$TOOL" encode -s @a -o x --size 640x480 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--size without --device accepted"
"$TOOL" run capture=/dev/video0 encode=fwht,out=x,policy=never > "$DIR/bad.log" 2>&1
[ $? -eq 2 ] && grep -q "bad policy 'never'" "$DIR/bad.log" || fail "bad run policy"
"$TOOL" encode -s @a -o x --container mkv >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --container accepted"
"$TOOL" run capture=/dev/video0 encode=fwht,out=x,container=mkv > "$DIR/bad.log" 2>&1
[ $? -eq 2 ] && grep -q "container=mkv: expected bitstream or dmapipe" "$DIR/bad.log" ||
	fail "bad run container"
ok "bad command lines refused"

# ---- --buffer / --buffer-mb (no device needed): bad values, one error each ----------
# bad_buffer WHAT REASON ARGS...: exit 2, one error line, REASON in it
bad_buffer() {
	what=$1
	reason=$2
	shift 2
	"$TOOL" "$@" > "$DIR/buf.log" 2>&1
	st=$?
	[ $st -eq 2 ] || fail "$what: exit $st, expected 2: $(cat "$DIR/buf.log")"
	[ "$(grep -c 'error:' "$DIR/buf.log")" = 1 ] && grep -q -e "$reason" "$DIR/buf.log" ||
		fail "$what: not one error line saying '$reason': $(cat "$DIR/buf.log")"
}
W="encode -s @dmapipe-none-$$ -o $DIR/buf.rec --container dmapipe"
# shellcheck disable=SC2086 # $W is words
{
bad_buffer "--buffer 2m" "wants a duration such as 2s or 500ms, got '2m'" $W --buffer 2m
bad_buffer "--buffer 0" "wants a duration such as 2s or 500ms, got '0'" $W --buffer 0
bad_buffer "--buffer 61s" "at most 60 s, got '61s'" $W --buffer 61s
bad_buffer "--buffer-mb 0" "buffer-mb wants a whole number from 1 to 65536" $W --buffer-mb 0
bad_buffer "--buffer-mb 65537" "buffer-mb wants a whole number from 1 to 65536" $W --buffer-mb 65537
bad_buffer "both" "--buffer and --buffer-mb exclude each other" $W --buffer 2s --buffer-mb 4
bad_buffer "a duration without a rate" "needs the stream's rate to be sized" $W --buffer 2s
bad_buffer "60 s at 4 Gbit/s" "more than half of this machine's memory" $W --bitrate 4000000000 --buffer 60s
bad_buffer "run buffer=61s" "bad buffer '61s'" run capture=/dev/video0 encode=fwht,out=x,buffer=61s
bad_buffer "run buffer-mb=0" "buffer-mb=0 is out of range" run capture=/dev/video0 encode=fwht,out=x,buffer-mb=0
bad_buffer "run both" "buffer= and buffer-mb= exclude each other" \
	run capture=/dev/video0 encode=fwht,out=x,buffer-mb=2,buffer=1s
bad_buffer "run without a rate" "encode=fwht: a buffer of 2000 ms needs the stream's rate" \
	run capture=/dev/video0 encode=fwht,out=x,buffer=2s
}
ok "--buffer, --buffer-mb, buffer=, buffer-mb=: bad values and a duration without a rate refused, exit 2, one error line each"

# a buffer --mlock cannot lock: one error (permission) before any device is
# opened (none here: "cannot open the encoder" would come after it)
if command -v setpriv > /dev/null && command -v prlimit > /dev/null; then
	setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock -- prlimit --memlock=65536 -- \
		"$TOOL" encode -s "@dmapipe-none-$$" -o "$DIR/lock.rec" --container dmapipe \
		--buffer-mb 8 --mlock --json > "$DIR/lock.json" 2> "$DIR/lock.log"
	[ $? -eq 1 ] || fail "a buffer --mlock cannot lock: not exit 1: $(cat "$DIR/lock.log")"
	[ "$(grep -c 'error:' "$DIR/lock.log")" = 1 ] || fail "not one error line: $(cat "$DIR/lock.log")"
	jcheck "$DIR/lock.json" "d['result'] == 'error' and d['error']['code'] == 'permission' and \
d['error']['message'].startswith('--buffer: 8.4 MB cannot be locked in memory (--mlock): RLIMIT_MEMLOCK is 64 KiB')"
	[ ! -e "$DIR/lock.rec" ] || fail "the refused encode created its output"
	setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock -- prlimit --memlock=65536 -- \
		"$TOOL" run capture=/dev/video0,size=640x480,fps=30 --mlock \
		encode=fwht,out="$DIR/lock.fwht",buffer=1s > "$DIR/lock.log" 2>&1
	[ $? -eq 1 ] && [ "$(grep -c 'error:' "$DIR/lock.log")" = 1 ] &&
		grep -q "encode buffer=: 18.4 MB cannot be locked" "$DIR/lock.log" ||
		fail "run: a buffer --mlock cannot lock: $(cat "$DIR/lock.log")"
	ok "a buffer RLIMIT_MEMLOCK cannot hold under --mlock: exit 1, one error (permission), before any device"
else
	echo "# no setpriv or prlimit: the locked-buffer refusal is not tried"
fi

# ---- outputs (no device needed): an existing file is refused before any
# device is opened, and a failed run leaves it as it was and nothing of its own
printf 'keep me' >"$DIR/keep.fwht"
"$TOOL" encode -s "@dmapipe-none-$$" -o "$DIR/keep.fwht" >"$DIR/keep.log" 2>&1
[ $? -eq 1 ] && grep -q "exists (--force replaces it)" "$DIR/keep.log" || fail "an existing output: no clear refusal"
"$TOOL" encode -s "@dmapipe-none-$$" -o "$DIR/keep.fwht" --force >"$DIR/keep.log" 2>&1
[ $? -eq 1 ] || fail "encode without a producer or an encoder succeeded"
[ "$(cat "$DIR/keep.fwht")" = "keep me" ] || fail "a failed encode --force changed the old file"
"$TOOL" encode -s "@dmapipe-none-$$" -o "$DIR/keep.rec" --container dmapipe >"$DIR/keep.log" 2>&1
[ $? -eq 1 ] && [ ! -e "$DIR/keep.rec" ] || fail "a failed encode --container dmapipe left a file"
ls "$DIR"/*.partial-* >/dev/null 2>&1 && fail "a failed encode left a temporary file"
ok "outputs: an existing file refused without --force, kept by a failed run, no temporary file left"

ENC=$(node_of stateful-encoder) || skip "no vicodec stateful-encoder node"
VCAP=$(node_of dmapipe-vcap-0) || skip "no dmapipe_vcap device (insmod dmapipe_vcap.ko)"
VIVID=$(node_of vivid-000-vid-cap) || skip "no vivid capture node (modprobe vivid)"

# ---- encode --device -------------------------------------------------------------
"$TOOL" encode -d "$VCAP" -e "$ENC" -f NV12 --size 640x480 --fps 10 -n 12 -o "$DIR/a.fwht" \
	--buffer 1s -q --json > "$DIR/a.json" 2> "$DIR/a.log" || fail "encode --device"
[ "$(json_str "$DIR/a.json" io)" = import ] || fail "not imported: $(json_str "$DIR/a.json" io_note)"
[ "$(json_u64 "$DIR/a.json" bytes_copied)" = 0 ] || fail "frames were copied"
n=$(fwht_frames "$DIR/a.fwht" 640 480) || fail "bad bitstream: $n"
[ "$n" -eq 12 ] || fail "$n frames in the bitstream, want 12"
# FWHT has no bitrate: the worst case is the raw NV12 frames' rate, and the
# writer's queue holds 1 s of it
jcheck "$DIR/a.json" "d['buffer_rate'] == 'raw' and \
d['buffer_peak_bytes_per_s'] >= 640 * 480 * 3 // 2 * 10 and \
d['buffer_bytes'] == d['buffer_peak_bytes_per_s'] and abs(d['buffer_s'] - 1) < 1e-6"
ok "encode --device: 12 vcap frames imported by vicodec, 0 bytes copied; --buffer 1s: a $(json_u64 "$DIR/a.json" buffer_bytes)-byte queue, 1 s of raw NV12"

# the README's line: a group of pictures, the bitstream on stdout
"$TOOL" encode --device "$VCAP" --size 640x480 --fps 10 --gop 10 -n 12 -q -o - \
	> "$DIR/gop.fwht" 2> "$DIR/gop.log" || fail "encode --gop 10 -o -: $(cat "$DIR/gop.log")"
n=$(fwht_frames "$DIR/gop.fwht" 640 480) || fail "bad bitstream on stdout: $n"
[ "$n" -eq 12 ] || fail "$n frames on stdout, want 12"
ok "encode --device --gop 10 -o -: 12 frames on stdout"

# ---- the stride the encoder cannot take ----------------------------------------------
"$TOOL" encode -d "$VCAP" -e "$ENC" -f NV12 --size 1008x480 --fps 10 --capture-stride 1024 -n 8 \
	-o "$DIR/b.fwht" -q --json > "$DIR/b.json" 2> "$DIR/b.log" || fail "negotiated encode"
grep -q "negotiating: plane 0 has stride 1024, the encoder needs 1008" "$DIR/b.log" ||
	fail "no negotiation line"
[ "$(json_str "$DIR/b.json" io)" = import ] && [ "$(json_u64 "$DIR/b.json" bytes_copied)" = 0 ] ||
	fail "negotiation did not give import: $(json_str "$DIR/b.json" io_note)"
[ "$(fwht_frames "$DIR/b.fwht" 1008 480)" -eq 8 ] || fail "negotiated bitstream"
ok "stride 1024 vs 1008: negotiated with the device, imported, 0 copied"

"$TOOL" encode -d "$VCAP" -e "$ENC" -f NV12 --size 1008x480 --fps 10 --capture-stride 1024 -n 8 \
	--no-negotiate -o "$DIR/c.fwht" -q --json > "$DIR/c.json" 2> "$DIR/c.log" || fail "copying encode"
[ "$(json_str "$DIR/c.json" io)" = copy ] || fail "not the copy path"
json_str "$DIR/c.json" io_note | grep -q "import impossible: plane 0 has stride 1024, the encoder needs 1008" ||
	fail "no reason: $(json_str "$DIR/c.json" io_note)"
grep -q "copying every frame into the encoder's buffers (counted): import impossible" "$DIR/c.log" ||
	fail "the fallback was not logged"
[ "$(json_u64 "$DIR/c.json" bytes_copied)" -eq $((8 * 1008 * 480 * 3 / 2)) ] ||
	fail "copied $(json_u64 "$DIR/c.json" bytes_copied) bytes"
[ "$(fwht_frames "$DIR/c.fwht" 1008 480)" -eq 8 ] || fail "copied bitstream"
ok "--no-negotiate: counted copy of 8 frames, $(json_u64 "$DIR/c.json" bytes_copied) bytes, reason logged"

"$TOOL" encode -d "$VCAP" -e "$ENC" -f NV12 --size 1008x480 --fps 10 --capture-stride 1024 -n 8 \
	--no-negotiate --strict -o "$DIR/d.fwht" -q > "$DIR/d.log" 2>&1
[ $? -eq 1 ] || fail "strict did not fail"
grep -q "strict: the encoder cannot import these frames and copying them is refused" "$DIR/d.log" ||
	fail "no clear strict error"
ok "--strict: refused with exit 1 and the reason"

# ---- encode --socket ------------------------------------------------------------------
for size in 640x480 1008x480; do
	w=${size%x*}
	sock=$DIR/s-$w.sock
	bg serve-$w "$TOOL" serve -s "$sock" --size $size -f NV12 --fps 10 -q
	wait_socket "$sock"
	# --codec finds the encoder (vicodec is the only FWHT one)
	"$TOOL" encode --socket "$sock" --codec fwht --frames 6 -o "$DIR/s-$w.fwht" -q --json > "$DIR/s-$w.json" \
		2> "$DIR/s-$w.log" || fail "encode --socket $size"
	[ "$(fwht_frames "$DIR/s-$w.fwht" "$w" 480)" -ge 6 ] || fail "socket bitstream $size"
	if [ "$w" = 640 ]; then
		[ "$(json_str "$DIR/s-$w.json" io)" = import ] &&
			[ "$(json_u64 "$DIR/s-$w.json" bytes_copied)" = 0 ] ||
			fail "640x480 over a socket: $(json_str "$DIR/s-$w.json" io_note)"
	else
		# the encoder's constraints made serve replace its 1024-byte rows
		[ "$(json_str "$DIR/s-$w.json" io)" = import ] &&
			[ "$(json_u64 "$DIR/s-$w.json" bytes_copied)" = 0 ] ||
			fail "1008x480 over a socket, negotiated: $(json_str "$DIR/s-$w.json" io_note)"
		# a new serve: the first one's pool is now the encoder's layout
		kill "$LAST"
		bg serve-nn "$TOOL" serve -s "$DIR/s-nn.sock" --size $size -f NV12 --fps 10 -q
		wait_socket "$DIR/s-nn.sock"
		"$TOOL" encode --socket "$DIR/s-nn.sock" --codec fwht --frames 6 --no-negotiate \
			-o "$DIR/s-nn.fwht" -q --json > "$DIR/s-nn.json" 2> "$DIR/s-nn.log" ||
			fail "encode --socket --no-negotiate"
		[ "$(json_str "$DIR/s-nn.json" io)" = copy ] || fail "1008x480, --no-negotiate, imported?"
		json_str "$DIR/s-nn.json" io_note | grep -q "stride 1024, the encoder needs 1008" ||
			fail "socket copy reason: $(json_str "$DIR/s-nn.json" io_note)"
		[ "$(json_u64 "$DIR/s-nn.json" bytes_copied)" -ge $((6 * 1008 * 480 * 3 / 2)) ] ||
			fail "socket copy not counted: $(json_u64 "$DIR/s-nn.json" bytes_copied)"
		"$TOOL" encode -s "$DIR/s-nn.sock" -e "$ENC" -n 6 -o "$DIR/s-strict.fwht" --strict \
			--no-negotiate -q > "$DIR/s-strict.log" 2>&1
		[ $? -eq 1 ] && grep -q "strict" "$DIR/s-strict.log" || fail "socket strict did not fail"
	fi
	kill "$LAST"
done
ok "encode --socket: 640x480 imported; 1008x480 imported after the encoder's constraints (0 copied); with --no-negotiate copied with the reason, strict refused"

# ---- run ---------------------------------------------------------------------------
# On a tmpfs without O_DIRECT (kernels before 6.6, the 6.1 lane) the
# recorder falls back to buffered writes; the recording must check either way.
"$TOOL" run -n 30 capture="$VIVID",format=NV12,size=640x480,fps=10 \
	encode=fwht,out="$DIR/run.fwht",device="$ENC",policy=queue:4 \
	record="$DIR/run.rec",policy=queue:8 serve="$DIR/run.sock" > "$DIR/run.log" 2>&1 &
run=$!
PIDS="$PIDS $run"
wait_socket "$DIR/run.sock"
bg consume "$TOOL" consume -s "$DIR/run.sock" --verify none -q --policy queue:4 --timeout 20000
cons=$LAST
WAIT_OK_SECONDS=120 wait_ok $run "dmapipe run"
wait $cons 2>/dev/null
grep -q "run: ok" "$DIR/run.log" || fail "run did not report ok"
grep -q "copied: 0 bytes in 0 frames" "$DIR/run.log" || fail "run copied frames"
grep -q "encode -> .*import: " "$DIR/run.log" || fail "run's encoder did not import"
n=$(fwht_frames "$DIR/run.fwht" 640 480) || fail "run bitstream: $n"
[ "$n" -ge 20 ] || fail "run encoded $n of 30 frames"
"$TOOL" record --check "$DIR/run.rec" --verify none --json > "$DIR/check.json" 2>&1 ||
	fail "the recording does not check"
[ "$(json_u64 "$DIR/check.json" frames)" -ge 20 ] ||
	fail "the recording has $(json_u64 "$DIR/check.json" frames) frames"
grep -q "consumer .*frames sent" "$DIR/run.log" || fail "the other process is not in the summary"
ok "run: vivid -> fwht ($n frames) + recording + another process, 0 bytes copied"

# ---- the bitstream through the storage writer -----------------------------------------
"$TOOL" encode -s @a -e "$ENC" --container dmapipe -o - 2> "$DIR/stdout.log" | cat >/dev/null
grep -q "stdout is not a regular file" "$DIR/stdout.log" ||
	fail "a recording into a pipe was not refused clearly"

"$TOOL" encode -d "$VCAP" -e "$ENC" -f NV12 --size 640x480 --fps 10 -n 12 --container dmapipe \
	--bitrate 8000000 --buffer 2s \
	-o "$DIR/e.rec" -q --json > "$DIR/e.json" 2> "$DIR/e.log" || fail "encode --container dmapipe"
# 2 s at twice 8 Mbit/s in packet groups, and one more group (the one being
# written); vicodec has no bitrate control (logged), the sizing uses it anyway
jcheck "$DIR/e.json" "d['buffer_rate'] == 'bitrate' and d['buffer_peak_bytes_per_s'] == 2000000 and \
2.0 <= d['buffer_s'] < 2.02 and d['buffer_bytes'] >= 5000000"
[ "$(json_u64 "$DIR/e.json" recorded_frames)" -eq 12 ] ||
	fail "$(json_u64 "$DIR/e.json" recorded_frames) packets recorded, want 12"
[ "$(json_u64 "$DIR/e.json" bytes_copied)" = 0 ] && [ "$(json_u64 "$DIR/e.json" recorded_copied_bytes)" = 0 ] ||
	fail "bytes copied: $(cat "$DIR/e.json")"
direct=$(json_u64 "$DIR/e.json" recorded_direct_bytes)
# every packet went through a packet group (docs/FORMAT.md), its bytes counted apart
[ "$(json_u64 "$DIR/e.json" recorded_gathered_packets)" -eq 12 ] &&
	[ "$(json_u64 "$DIR/e.json" recorded_groups)" -ge 1 ] &&
	[ "$(json_u64 "$DIR/e.json" recorded_gathered_bytes)" -gt 0 ] ||
	fail "packets not gathered: $(cat "$DIR/e.json")"
"$TOOL" record --check "$DIR/e.rec" --verify none --json > "$DIR/e-check.json" 2>&1 ||
	fail "the bitstream recording does not check: $(cat "$DIR/e-check.json")"
[ "$(json_u64 "$DIR/e-check.json" frames)" -eq 12 ] || fail "record --check: not 12 frames"
# packet sizes vary; only the first frame is a format change
[ "$(json_u64 "$DIR/e-check.json" format_changes)" -eq 1 ] ||
	fail "record --check: $(json_u64 "$DIR/e-check.json" format_changes) format changes, want 1"
"$TOOL" export "$DIR/e.rec" -o "$DIR/e.y4m" > "$DIR/e-y4m.log" 2>&1
[ $? -eq 1 ] && grep -q "compressed stream: y4m cannot carry them" "$DIR/e-y4m.log" ||
	fail "a bitstream recording exported as y4m"
"$TOOL" export "$DIR/e.rec" -o "$DIR/e.fwht" -q || fail "export of the bitstream recording"
[ ! -e "$DIR/e.fwht.json" ] || fail "a bitstream got a raw-video sidecar"
n=$(fwht_frames "$DIR/e.fwht" 640 480) || fail "exported bitstream: $n"
[ "$n" -eq 12 ] || fail "$n frames exported, want 12"
ok "encode --container dmapipe: 12 packets recorded (gathered into packet groups, $direct bytes O_DIRECT, 0 pixel bytes copied), checked, exported"

"$TOOL" run -n 16 capture="$VIVID",format=NV12,size=640x480,fps=10 \
	encode=fwht,out="$DIR/twin.fwht",device="$ENC",policy=block:4 \
	encode=fwht,out="$DIR/twin.rec",device="$ENC",policy=block:4,container=dmapipe \
	> "$DIR/twin.log" 2>&1 || fail "run with a plain and a recorded encoder: $(tail -n 5 "$DIR/twin.log")"
grep -q "copied: 0 bytes in 0 frames" "$DIR/twin.log" || fail "twin run copied frames"
"$TOOL" record --check "$DIR/twin.rec" --verify none -q > "$DIR/twin-check.log" 2>&1 ||
	fail "the twin recording does not check"
"$TOOL" export "$DIR/twin.rec" -o "$DIR/twin-rec.fwht" --raw -q || fail "twin export"
n=$(fwht_frames "$DIR/twin.fwht" 640 480) || fail "twin plain bitstream: $n"
[ "$n" -ge 10 ] || fail "the twin run encoded $n frames"
cmp "$DIR/twin.fwht" "$DIR/twin-rec.fwht" || fail "the recorded bitstream differs from the plain one"
ok "run: two encoders on one stream, the recording exports byte-identical to the plain bitstream ($n frames)"

# ---- the bitstream served to other processes ------------------------------------------
bg cons-enc "$TOOL" consume -s "$DIR/enc.sock" --verify none -q --policy queue:4 --json \
	--timeout 20000
cons=$LAST
"$TOOL" encode -d "$VCAP" -e "$ENC" -f NV12 --size 640x480 --fps 10 -n 30 --serve "$DIR/enc.sock" \
	-o "$DIR/served.fwht" -q --json > "$DIR/served.json" 2> "$DIR/served.log" ||
	fail "encode --serve: $(cat "$DIR/served.log")"
WAIT_OK_SECONDS=30 wait_ok $cons "the consumer of the served bitstream"
[ "$(fwht_frames "$DIR/served.fwht" 640 480)" -eq 30 ] || fail "encode --serve: the file lost packets"
served=$(json_u64 "$DIR/served.json" packets_served)
got=$(json_u64 "$DIR/cons-enc.log" frames_received)
[ -n "$got" ] && [ "$got" -ge 10 ] && [ "$got" -le "$served" ] ||
	fail "the consumer got ${got:-no} of $served served packets: $(cat "$DIR/cons-enc.log")"
[ "$(json_u64 "$DIR/served.json" bytes_copied)" = 0 ] || fail "encode --serve copied frames"
ok "encode --serve: $served packets served from the encoder's buffers, $got received by another process"

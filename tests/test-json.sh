#!/bin/sh
# SPDX-License-Identifier: MIT
#
# What a user and a script see of every command (docs/JSON.md):
#   - each command run to a failure prints one error line ("dmapipe CMD:
#     error: ...", never a fatal "warning"), exits 0/1/2 as documented, and
#     with --json prints one document whose common keys json-check.py
#     validates, with the error code that names the problem;
#   - each command run to success with --json gives a valid document;
#   - bare socket names go to $XDG_RUNTIME_DIR/dmapipe, made 0700, and
#     --socket-mode opens the socket and its directory to others;
#   - consume says at once what it waits for, then names what is wrong with
#     the socket: no such socket, not a socket, a stale socket;
#   - stats --watch | head ends with status 0; stream names a peer chose are
#     escaped in stats and list; formats reads GStreamer, V4L2 and DRM names.
#
# Usage: test-json.sh PATH-TO-dmapipe [net] [bench]

DMAPIPE=${1:?usage: test-json.sh PATH-TO-dmapipe}
shift
HAVE_NET=false
HAVE_BENCH=false
for a in "$@"; do
	[ "$a" = net ] && HAVE_NET=true
	[ "$a" = bench ] && HAVE_BENCH=true
done
CHECK="$(dirname "$0")/json-check.py"

TAG=json
# shellcheck source=testlib.sh
. "$(dirname "$0")/testlib.sh"

XDG_RUNTIME_DIR="$DIR/xdg"
export XDG_RUNTIME_DIR
mkdir -m 700 "$XDG_RUNTIME_DIR"
SOCKDIR="$XDG_RUNTIME_DIR/dmapipe"

# fails STATUS CODE CMD ARGS...: `dmapipe CMD ARGS... --json` exits STATUS,
# prints exactly one error line and a document with error code CODE
fails() {
	want=$1
	code=$2
	shift 2
	"$DMAPIPE" "$@" --json >"$DIR/doc.json" 2>"$DIR/err.log"
	st=$?
	[ $st -eq "$want" ] || fail "dmapipe $*: exit $st, expected $want: $(cat "$DIR/err.log")"
	n=$(grep -c "^dmapipe $1: error: " "$DIR/err.log")
	[ "$n" -eq 1 ] || fail "dmapipe $*: $n error lines, expected 1: $(cat "$DIR/err.log")"
	grep -q "^dmapipe $1: warning: " "$DIR/err.log" &&
		fail "dmapipe $*: a warning beside the error: $(cat "$DIR/err.log")"
	result=error
	[ "$code" = verify-failed ] && result=failed
	python3 "$CHECK" "$DIR/doc.json" "$1" "$result" "$code" || fail "dmapipe $* --json"
}

# succeeds CMD ARGS...: exit 0 and a valid document with result ok
succeeds() {
	"$DMAPIPE" "$@" --json >"$DIR/doc.json" 2>"$DIR/err.log" ||
		fail "dmapipe $*: exit $?: $(cat "$DIR/err.log")"
	python3 "$CHECK" "$DIR/doc.json" "$1" ok || fail "dmapipe $* --json"
}

# ---- failures of every command ------------------------------------------------------

touch "$DIR/file" "$DIR/junk.rec"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$DIR/stale"

fails 2 usage serve --format NOPE
fails 2 usage serve --socket-mode 0044
fails 1 no-socket consume --timeout 200
grep -q "no producer on $SOCKDIR/default after .*: no such socket" "$DIR/err.log" ||
	fail "consume without --socket: $(cat "$DIR/err.log")"
fails 1 not-a-socket consume --socket "$DIR/file" --timeout 200
grep -q "not a socket: a regular file" "$DIR/err.log" || fail "regular file: $(cat "$DIR/err.log")"
fails 1 no-producer consume --socket "$DIR/stale" --timeout 200
grep -q "no producer is listening" "$DIR/err.log" || fail "stale socket: $(cat "$DIR/err.log")"
fails 1 no-socket record --socket nothing -o "$DIR/r.rec" --timeout 200
fails 2 usage record --socket nothing
fails 1 not-found play "$DIR/missing.rec" --socket p
fails 1 unsupported play "$DIR/junk.rec" --socket p
fails 1 not-found export "$DIR/missing.rec" -o "$DIR/x.y4m"
fails 1 not-found probe "$DIR/missing.rec"
fails 2 usage encode --socket nothing
fails 2 usage run --bogus
fails 1 no-socket stats --socket nothing
fails 1 not-found list --dir "$DIR/no-such-dir"
# the error names the path asked for, not the name the socket had before it listened
fails 1 not-found serve --socket "$DIR/no-such-dir/cam" --frames 1
grep -q "cannot bind $DIR/no-such-dir/cam: No such file or directory" "$DIR/err.log" ||
	fail "serve into a missing directory: $(cat "$DIR/err.log")"
fails 2 usage formats NOPE
grep -q "unknown format 'NOPE'" "$DIR/err.log" || fail "formats NOPE: $(cat "$DIR/err.log")"
fails 2 usage formats BGRX
grep -q "ambiguous.*XRGB8888.*BGRX8888" "$DIR/err.log" || fail "formats BGRX: $(cat "$DIR/err.log")"
fails 1 device display --socket nothing --device /dev/null
fails 2 usage demo --frames -1
fails 2 usage pipewire --bogus
fails 2 usage info extra
if $HAVE_NET; then
	fails 2 usage rtsp --listen :70000
	fails 2 usage srt --codec raw
fi
if $HAVE_BENCH; then
	fails 2 usage bench --bogus
fi
ok "failures: one error line, the documented exit status, a document with the code"

# ---- formats by any name ---------------------------------------------------------------

for pair in BGRx:XRGB8888 XR24:XRGB8888 XRGB8888:XRGB8888 RGB3:BGR888 I420:YUV420 \
	YU12:YUV420 NM12:NV12 NV12:NV12 YUY2:YUYV; do
	succeeds formats "${pair%%:*}"
	jcheck "$DIR/doc.json" "len(d['formats']) == 1 and d['formats'][0]['fourcc'] == '${pair#*:}'"
done
"$DMAPIPE" formats >"$DIR/formats.out" 2>&1 || fail "formats"
grep -q "^NV12 .* NV12 .* 4:2:0 " "$DIR/formats.out" || fail "formats: no NV12 line: $(cat "$DIR/formats.out")"
succeeds formats
jcheck "$DIR/doc.json" "len(d['formats']) > 10 and all(f['planes'] >= 1 for f in d['formats'])"
jcheck "$DIR/doc.json" "[f['subsampling'] for f in d['formats'] if f['fourcc'] == 'NV12'] == ['4:2:0']"
ok "formats: GStreamer, V4L2 and DRM names; ambiguous and unknown ones refused"

# ---- a bare name, the wait, success documents ----------------------------------------

bg consume "$DMAPIPE" consume --socket cam --frames 5 --timeout 20000 --json
CPID=$LAST
i=0
until grep -q "^consume: waiting for a producer on $SOCKDIR/cam$" "$DIR/consume.log"; do
	i=$((i + 1))
	[ $i -le 50 ] || fail "consume did not say what it waits for within 5 s: $(cat "$DIR/consume.log")"
	sleep 0.1
done
bg serve "$DMAPIPE" serve --socket cam --name "$(printf 'cam\033[2J\007')" --size 64x48 \
	--fps 30 -q --json
SPID=$LAST
wait_socket "$SOCKDIR/cam"
[ "$(stat -c %a "$SOCKDIR")" = 700 ] || fail "$SOCKDIR: mode $(stat -c %a "$SOCKDIR"), expected 700"
wait_ok $CPID "consume --socket cam"
sed -n '/^{/,$p' "$DIR/consume.log" >"$DIR/consume.json"
python3 "$CHECK" "$DIR/consume.json" consume ok || fail "consume --json"
jcheck "$DIR/consume.json" "d['frames_received'] == 5 and d['socket'] == '$SOCKDIR/cam'"
ok "consume said at once it waits for $SOCKDIR/cam, then took 5 frames"

succeeds stats --socket cam
jcheck "$DIR/doc.json" "d['stream'] == 'cam\\x1b[2J\\x07' and d['fourcc'] == 'NV12'"
"$DMAPIPE" stats --socket cam >"$DIR/stats.out" 2>&1 || fail "stats"
grep -q 'cam\\x1b\[2J\\x07' "$DIR/stats.out" || fail "stats: the name is not escaped: $(cat -A "$DIR/stats.out")"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCKDIR/old"
# a producer's socket under its temporary name, before it listens (or left
# by one that died then): not a stream
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCKDIR/.dmapipe-1-0-0.tmp"
succeeds list
# list also reads /run/dmapipe, the system service's: only ours are checked
jcheck "$DIR/doc.json" "[(s['socket'], s['state']) for s in d['streams'] if s['socket'].startswith('$SOCKDIR/')] == [('$SOCKDIR/cam', 'live'), ('$SOCKDIR/old', 'stale')]"
jcheck "$DIR/doc.json" "[(s['fourcc'], s['width'], s['pid']) for s in d['streams'] if s['socket'] == '$SOCKDIR/cam'] == [('NV12', 64, $SPID)]"
jcheck "$DIR/doc.json" "d['directories'][0] == '$SOCKDIR'"
"$DMAPIPE" list >"$DIR/list.out" 2>&1 || fail "list"
grep -q 'cam\\x1b\[2J\\x07' "$DIR/list.out" || fail "list: the name is not escaped: $(cat -A "$DIR/list.out")"
grep -q "$SOCKDIR/old *stale" "$DIR/list.out" || fail "list: no stale socket: $(cat "$DIR/list.out")"
if tr -d '\n' <"$DIR/list.out" | grep -q "$(printf '\033')"; then
	fail "list printed a raw escape"
fi
ok "stats and list: the stream, its format, the stale socket, not a producer's temporary name; the peer's name escaped"

# stats --watch | head: the reader goes away, stats ends with status 0
( "$DMAPIPE" stats --socket cam --watch --interval 100 2>"$DIR/watch.err"; echo $? >"$DIR/watch.st" ) |
	head -n 2 >"$DIR/watch.out"
i=0
while [ ! -s "$DIR/watch.st" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "stats --watch | head did not end in 10 s"
	sleep 0.1
done
[ "$(cat "$DIR/watch.st")" = 0 ] || fail "stats --watch | head: exit $(cat "$DIR/watch.st"): $(cat "$DIR/watch.err")"
"$DMAPIPE" stats --socket cam --watch --interval 100 --json 2>/dev/null | head -n 3 >"$DIR/watch.json"
python3 "$CHECK" "$DIR/watch.json" stats ok || fail "stats --watch --json"
ok "stats --watch | head: exit 0; --watch --json: one valid document per line"

"$DMAPIPE" record --socket cam -o "$DIR/a.rec" --frames 10 --json >"$DIR/doc.json" 2>"$DIR/err.log" ||
	fail "record: $(cat "$DIR/err.log")"
python3 "$CHECK" "$DIR/doc.json" record ok || fail "record --json"
kill -TERM $SPID
wait $SPID || fail "serve did not exit 0 after SIGTERM"
sed -n '/^{/,$p' "$DIR/serve.log" >"$DIR/serve.json"
python3 "$CHECK" "$DIR/serve.json" serve interrupted || fail "serve --json"
[ -e "$SOCKDIR/cam" ] && fail "serve left its socket"
succeeds probe "$DIR/a.rec"
succeeds export "$DIR/a.rec" -o "$DIR/a.nv12"
succeeds info
ok "serve (interrupted), record, probe, export, info: valid documents"

# --socket-mode: another user may open the socket, and reach it
bg shared "$DMAPIPE" serve --socket shared --socket-mode 0666 --peer any --size 64x48 -q
wait_socket "$SOCKDIR/shared"
[ "$(stat -c %a "$SOCKDIR/shared")" = 666 ] || fail "--socket-mode 0666: $(stat -c %a "$SOCKDIR/shared")"
[ "$(stat -c %a "$SOCKDIR")" = 755 ] || fail "--socket-mode 0666: the directory is $(stat -c %a "$SOCKDIR")"
ok "--socket-mode 0666: the socket 666, its directory 755"

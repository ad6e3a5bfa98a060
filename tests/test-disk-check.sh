#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# record's disk check on a disk slower than the stream (docs/REALTIME.md).
# In the VM lane, as root: null_blk, memory-backed and throttled to 2 MiB/s
# by the kernel (its mbps parameter), with ext4 on it; the same 320x240
# NV12 stream at 30 fps (3.5 MB/s) recorded onto it and onto the
# guest's tmpfs, the reference made by the same test. On the slow disk the
# write test measures less than the reference's rate, record warns
# once before the recording is under way and says "too-slow" in --json,
# and the recording still goes on and verifies; on the reference it says
# "ok" and warns nothing. No absolute rate is asserted.
#
#   test-disk-check.sh DMAPIPE
set -u
DMAPIPE=${1:?usage: test-disk-check.sh DMAPIPE}
TAG=disk-check
. "$(dirname "$0")/testlib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root for null_blk and mount"
[ -n "${DMAPIPE_VM:-}" ] || skip "runs in the VM lane only (it loads null_blk)"
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 is missing (e2fsprogs)"
[ -e /sys/module/null_blk ] && skip "null_blk is loaded already: its parameters are taken"
modprobe ext4 2>/dev/null
# null_blk refills its budget every 20 ms without carrying it over: a
# request larger than a tick's budget never passes, so requests of 32 KiB
# (max_sectors) under 2 MiB/s (42 KiB a tick)
modprobe null_blk nr_devices=1 gb=1 memory_backed=1 mbps=2 max_sectors=64 ||
	skip "cannot load null_blk with memory_backed and mbps"

MNT=$DIR/slow
# shellcheck disable=SC2317 # called by testlib.sh's cleanup
at_exit() {
	umount "$MNT" 2>/dev/null
	modprobe -r null_blk 2>/dev/null
}
[ -b /dev/nullb0 ] || fail "null_blk made no /dev/nullb0"
# at 4 MiB/s a journal and zeroed inode tables would take minutes to write:
# neither, and no zeroing behind the test's back once mounted
mkfs.ext4 -q -F -O ^has_journal -E lazy_itable_init=1,nodiscard /dev/nullb0 ||
	fail "mkfs.ext4 on /dev/nullb0"
mkdir -p "$MNT" || fail "mkdir $MNT"
mount -o noinit_itable /dev/nullb0 "$MNT" || fail "mount /dev/nullb0"

S=$DIR/cam.sock
# record NAME FILE: the stream recorded into FILE, its JSON in $DIR/NAME.json
record() {
	"$DMAPIPE" serve --socket "$S" --size 320x240 --format NV12 --fps 30 --frames 45 \
		--wait-consumers 1 -q >"$DIR/serve-$1.log" 2>&1 &
	serve=$!
	PIDS="$PIDS $serve"
	wait_socket "$S"
	"$DMAPIPE" record "$S" -o "$2" --json --timeout 30000 >"$DIR/$1.json" 2>"$DIR/$1.log" ||
		fail "record onto the $1 disk: $(cat "$DIR/$1.log")"
	wait $serve || fail "serve for the $1 disk: $(cat "$DIR/serve-$1.log")"
	"$DMAPIPE" record --check "$2" --json >"$DIR/$1-check.json" 2>"$DIR/$1-check.log" ||
		fail "the recording on the $1 disk does not verify: $(cat "$DIR/$1-check.log")"
}

record reference "$DIR/ref.rec"
record slow "$MNT/slow.rec"

python3 - "$DIR/reference.json" "$DIR/slow.json" "$DIR/slow-check.json" <<'EOF' ||
import json, sys
ref, slow, check = (json.load(open(p)) for p in sys.argv[1:])
r, s = ref["disk_check"], slow["disk_check"]
print("# reference: %.1f MB/s (%s), slow: %.1f MB/s (%s), the stream needs %.1f MB/s" % (
    r["bytes_per_s"] / 1e6, r["verdict"], s["bytes_per_s"] / 1e6, s["verdict"],
    s["need_bytes_per_s"] / 1e6))
assert r["method"] == s["method"] == "probe", (r, s)
assert s["bytes_per_s"] < r["bytes_per_s"], (r, s)
assert r["need_bytes_per_s"] == s["need_bytes_per_s"] > 0, (r, s)
assert r["verdict"] == "ok" and s["verdict"] == "too-slow", (r, s)
assert slow["result"] == "ok" and slow["frames_recorded"] > 0, slow
assert check["frames"] == slow["frames_recorded"] == check["frames_verified"], (slow, check)
EOF
	fail "the disk check did not tell the slow disk from the reference"
grep -q "disk check" "$DIR/reference.log" && fail "a warning on the reference: $(cat "$DIR/reference.log")"
[ "$(grep -c "warning: disk check: the file system of $MNT/slow.rec took .* MB/s" "$DIR/slow.log")" = 1 ] ||
	fail "not one disk-check warning on the slow disk: $(cat "$DIR/slow.log")"
ok "a disk slower than the stream (null_blk at 2 MiB/s): one warning and too-slow, the recording made and verified; the reference ok"

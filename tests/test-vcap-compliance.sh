#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# v4l2-compliance on dmapipe_vcap with every videobuf2 memory type, in the
# VM lane (root, a throw-away kernel):
#
#   test-vcap-compliance.sh KO COMPLIANCE [TEST_VCAP]
#
# KO is dmapipe_vcap.ko (@KVER@ stands for `uname -r`), COMPLIANCE a
# v4l2-compliance new enough for the kernel (tests/vm/fetch-compliance).
# For each of vmalloc, dma-sg and dma-contig the module is reloaded with
# mem_ops=X n_devs=2 and `v4l2-compliance -d vcap-0 -s -e vcap-1` runs: the
# streaming tests with MMAP, USERPTR (not dma-contig), read() and DMABUF,
# the DMABUF buffers exported from the second device. Its exit status is not
# reliable, so its summary line is what counts:
#   Total for dmapipe_vcap device /dev/videoN: T, Succeeded: T, Failed: 0, Warnings: W
# and the streaming tests must be in the log. A failed run is repeated once:
# failing twice fails; passing the second time passes with the first run's
# failed checks printed and its log kept. With TEST_VCAP (test-vcap),
# all its tests run under each memory type too.
# The module is reloaded as it was found at the end. Logs go to
# $DMAPIPE_VM_ARTIFACTS (the lane keeps them).
set -u

ko=$(echo "${1:?usage: $0 KO COMPLIANCE [TEST_VCAP]}" | sed "s|@KVER@|$(uname -r)|g")
compliance=${2:?usage: $0 KO COMPLIANCE [TEST_VCAP]}
test_vcap=${3:-}
art=${DMAPIPE_VM_ARTIFACTS:-${TMPDIR:-/tmp}}
params=/sys/module/dmapipe_vcap/parameters

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root to reload dmapipe_vcap"
	exit 77
fi
if [ ! -r "$ko" ]; then
	echo "SKIP: $ko not built for this kernel"
	exit 77
fi
if ! version=$("$compliance" --version 2>&1); then
	echo "FAIL: $compliance does not run: $version"
	exit 1
fi
echo "$version on $(uname -r)"

# the parameters to restore at the end
orig=
if [ -d "$params" ]; then
	for p in mem_ops n_devs width height fourcc fps; do
		orig="$orig $p=$(cat "$params/$p")"
	done
fi

for dep in $(modinfo -F depends "$ko" | tr , ' '); do
	modprobe "$dep" || { echo "FAIL: modprobe $dep"; exit 1; }
done

unload() {
	[ -d /sys/module/dmapipe_vcap ] || return 0
	rmmod dmapipe_vcap
}

# /dev node of dmapipe_vcap instance $1
node() {
	for n in /sys/class/video4linux/video*; do
		if [ "$(cat "$n/name")" = "dmapipe-vcap-$1" ]; then
			echo "/dev/${n##*/}"
			return 0
		fi
	done
	return 1
}

# run_compliance CAP EXP LOG: runs v4l2-compliance on CAP with EXP exporting
# the DMABUF buffers; sets $total to its summary line and $why to what is
# wrong with the run (empty: it passed)
run_compliance() {
	clog=$3
	"$compliance" -d "$1" -s -e "$2" >"$clog" 2>&1
	status=$?
	total=$(grep '^Total for ' "$clog" | tail -n 1)
	# "Total for dmapipe_vcap device /dev/video0: 59, Succeeded: 59, Failed: 0, Warnings: 12"
	# shellcheck disable=SC2046
	set -- $(echo "$total" | sed -n 's/.*: \([0-9]*\), Succeeded: \([0-9]*\), Failed: \([0-9]*\), Warnings: \([0-9]*\)$/\1 \2 \3 \4/p')
	why=
	if [ $# -ne 4 ]; then
		why="no summary line (exit status $status)"
	elif [ "$3" != 0 ] || [ "$1" != "$2" ] || [ "$1" = 0 ]; then
		# the failed checks first: a log shown only in part must still say which
		why="$total [$(grep 'fail:' "$clog" | head -n 3 | tr -s '\t\n' '  ')]"
	else
		for t in 'test MMAP (select' 'test DMABUF (select' 'test read/write: OK' \
			'test VIDIOC_EXPBUF: OK'; do
			grep -qF "$t" "$clog" || why="$why [missing: $t]"
		done
		if grep 'test [A-Z].*: FAIL' "$clog" >/dev/null; then
			why="$why [$(grep 'test [A-Z].*: FAIL' "$clog" | head -n 3 | tr -s '\t\n' '  ')]"
		fi
	fi
}

failed=
for mem in vmalloc dma-sg dma-contig; do
	if ! unload; then
		echo "FAIL: rmmod dmapipe_vcap"
		exit 1
	fi
	# shellcheck disable=SC2086
	if ! insmod "$ko" mem_ops=$mem n_devs=2; then
		echo "FAIL $mem: insmod $ko mem_ops=$mem n_devs=2"
		failed="$failed $mem"
		continue
	fi
	if ! cap=$(node 0) || ! exp=$(node 1); then
		echo "FAIL $mem: no dmapipe-vcap-0 and -1 video nodes"
		exit 1
	fi
	log=$art/compliance-$mem.log
	run_compliance "$cap" "$exp" "$log"
	retried=
	if [ -n "$why" ]; then
		# One more run, said out loud: the first failure in CI (dma-sg on
		# 6.1, 58 of 59) never came back in repeated runs, loaded or not.
		# A failure that repeats fails the test; one that does not is
		# reported with its checks and the first log is kept.
		first=$why
		mv "$log" "$art/compliance-$mem-first.log"
		run_compliance "$cap" "$exp" "$log"
		[ -n "$why" ] || retried=" (second run; the first failed: $first; log in compliance-$mem-first.log)"
	fi
	# frames lost at the 1000 fps v4l2-compliance asks for are honest warnings;
	# any other warning is shown
	other=$(grep 'warn:' "$log" | grep -v 'got sequence number' | sort | uniq -c)
	if [ -n "$why" ]; then
		echo "FAIL $mem: $why (twice)"
		grep -B3 'fail:' "$log" | head -n 40
		failed="$failed $mem"
	else
		echo "ok $mem: $total ($exp exported the DMABUF buffers)$retried"
	fi
	[ -z "$other" ] || printf 'warnings (%s):\n%s\n' "$mem" "$other"

	if [ -n "$test_vcap" ]; then
		cmds="capture import drops stress lifecycle"
		# shellcheck disable=SC2086
		if ! "$test_vcap" $cmds "$ko" >"$art/test-vcap-$mem.log" 2>&1; then
			echo "FAIL $mem: test-vcap $cmds:"
			tail -n 20 "$art/test-vcap-$mem.log"
			failed="$failed $mem/test-vcap"
		else
			echo "ok $mem: test-vcap $cmds"
			grep -E '^(ok [a-z]|.*refused|.*fps:|stress:)' "$art/test-vcap-$mem.log" |
				sed 's/^/    /'
		fi
	fi
done

unload || { echo "FAIL: rmmod dmapipe_vcap"; exit 1; }
if [ -n "$orig" ]; then
	# shellcheck disable=SC2086
	insmod "$ko" $orig || { echo "FAIL: reloading with$orig"; exit 1; }
fi

if [ -n "$failed" ]; then
	echo "FAIL:$failed (logs in $art)"
	exit 1
fi
echo "ok: v4l2-compliance passes with vmalloc, dma-sg and dma-contig"

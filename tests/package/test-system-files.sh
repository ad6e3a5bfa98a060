#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-system-files.sh TOOL UNIT SERVE_CONF UDEV_RULE SYSUSERS KERNEL_SRC
#
# The files that tie dmapipe into the system, checked on the host:
#   - systemd-analyze verify of dmapipe-serve@video0.service: no warning;
#   - the unit's own ExecStart, run with the built tool: the settings of
#     serve.conf reach dmapipe serve as options it accepts (a device that
#     is not there: exit 1, "cannot open"; a bad option in DMAPIPE_ARGS:
#     exit 2), empty settings are left out;
#   - systemd-sysusers creates the dmapipe user from the sysusers.d file
#     (in a scratch root);
#   - the udev rule matches the name kernel/dmapipe-core.c gives the node.
# Exits 77 when systemd-analyze is missing (apt-get install systemd).
set -u

tool=$1 unit=$2 conf=$3 rule=$4 sysusers=$5 ksrc=$6

command -v systemd-analyze >/dev/null ||
	{ echo "SKIP: systemd-analyze not found (apt-get install systemd)"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
fail() {
	echo "FAIL: $*"
	status=1
}

# ---- systemd-analyze verify (the man page is not installed: --man=no)
mkdir "$work/units"
cp "$unit" "$work/units/dmapipe-serve@.service"
if out=$(systemd-analyze verify --man=no "$work/units/dmapipe-serve@video0.service" 2>&1) &&
	[ -z "$out" ]; then
	echo "ok systemd-analyze verify"
else
	fail "systemd-analyze verify:"
	echo "$out"
fi

# ---- the ExecStart line, as systemd would run it for instance $1
# %I and %i are the instance, $$ is a dollar for sh, and the installed
# dmapipe is replaced by the built one.
exec_start() {
	inst=$1
	shift
	line=$(sed -n 's/^ExecStart=//p' "$unit")
	[ -n "$line" ] || { fail "no ExecStart in $unit"; return 1; }
	bin=$(printf '%s\n' "$line" | grep -o "[^ ']*/dmapipe serve" | sed 's/ serve$//')
	script=$(printf '%s\n' "$line" | sed -n "s/^\/bin\/sh -c '\(.*\)'$/\1/p" |
		sed "s|%I|$inst|g; s|%i|$inst|g; s|\\\$\\\$|\$|g; s|$bin|$tool|g")
	[ -n "$script" ] || { fail "ExecStart is not /bin/sh -c '...': $line"; return 1; }
	env -i PATH=/usr/bin:/bin "$@" /bin/sh -c "$script"
}

absent=dmapipe-test-absent-video$$
# expect_exec WHAT STATUS PATTERN VAR=VALUE...: the unit's ExecStart with
# these settings exits STATUS, its output matching PATTERN.
expect_exec() {
	what=$1 want=$2 pattern=$3
	shift 3
	out=$(exec_start "$absent" "$@" 2>&1)
	rc=$?
	if [ $rc -eq "$want" ] && printf '%s\n' "$out" | grep -q -- "$pattern"; then
		echo "ok ExecStart $what"
	else
		fail "ExecStart $what: exit $rc, expected $want and '$pattern':"
		echo "$out"
	fi
}

set -a
# shellcheck source=/dev/null
. "$conf"
set +a
expect_exec "with the shipped serve.conf: dmapipe serve runs, the device is absent" \
	1 "cannot open /dev/$absent" DMAPIPE_SIZE="$DMAPIPE_SIZE" DMAPIPE_FORMAT="$DMAPIPE_FORMAT" \
	DMAPIPE_FPS="$DMAPIPE_FPS" DMAPIPE_ARGS="$DMAPIPE_ARGS"
expect_exec "with every setting: options accepted" 1 "cannot open /dev/$absent" \
	DMAPIPE_SIZE=640x480 DMAPIPE_FORMAT=YUYV DMAPIPE_FPS=30 \
	DMAPIPE_ARGS="--buffers 6 --max-consumers 8 --name cam"
expect_exec "passes DMAPIPE_ARGS on (a bad option: exit 2)" 2 "no-such-option" \
	DMAPIPE_ARGS="--no-such-option"
expect_exec "passes DMAPIPE_SIZE on (0x0: exit 2)" 2 "0x0" DMAPIPE_SIZE=0x0

# ---- sysusers.d: the user the unit runs as
if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$work/root/etc"
	if systemd-sysusers --root="$work/root" "$sysusers" >/dev/null 2>&1 &&
		grep -q '^dmapipe:' "$work/root/etc/passwd"; then
		user=$(sed -n 's/^User=//p' "$unit")
		if [ "$user" = dmapipe ]; then
			echo "ok systemd-sysusers creates the unit's user"
		else
			fail "the unit runs as '$user', sysusers.d creates dmapipe"
		fi
	else
		fail "systemd-sysusers did not create dmapipe from $sysusers"
	fi
fi

# ---- the udev rule names the node the module registers
node=$(sed -n '/^static struct miscdevice dmapipe_misc/,/^};/s/.*\.name = "\(.*\)",/\1/p' \
	"$ksrc/dmapipe-core.c")
if [ -n "$node" ] && grep -q "^KERNEL==\"$node\", SUBSYSTEM==\"misc\", GROUP=\"video\", MODE=\"0660\"" "$rule"; then
	echo "ok the udev rule matches /dev/$node"
else
	fail "the udev rule does not match the misc device '$node' of kernel/dmapipe-core.c"
fi
exit $status

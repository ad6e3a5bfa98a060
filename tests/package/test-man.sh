#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-man.sh TOOL MANDIR bench|no-bench
#
# Every command of `dmapipe --help` has its page in MANDIR, and every page
# renders without a warning from man and from groff -ww: the generated roff
# is valid whatever the help texts say. The pages name the options the
# tool's --help lists (they are written from it; this catches a stale or
# truncated page).
set -eu

tool=$1 mandir=$2 bench=$3

command -v man >/dev/null || { echo "SKIP: man not found (apt-get install man-db)"; exit 77; }

commands=$("$tool" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1; next } on { exit }')
[ -n "$commands" ] || { echo "FAIL: no command list in dmapipe --help"; exit 1; }

status=0
check_page() {
	page=$1 help_cmd=$2
	before=$status
	if [ ! -f "$mandir/$page" ]; then
		echo "FAIL: $page missing in $mandir"
		status=1
		return
	fi
	warnings=$(MANWIDTH=80 man --warnings -l "$mandir/$page" 2>&1 >/dev/null) || {
		echo "FAIL: man -l $page failed: $warnings"
		status=1
		return
	}
	if [ -n "$warnings" ]; then
		echo "FAIL: man -l $page warns:"
		echo "$warnings"
		status=1
	fi
	if command -v groff >/dev/null; then
		warnings=$(groff -ww -z -man "$mandir/$page" 2>&1)
		if [ -n "$warnings" ]; then
			echo "FAIL: groff -ww $page warns:"
			echo "$warnings"
			status=1
		fi
	fi
	# every long option of the help text is in the rendered page
	text=$(MANWIDTH=200 man -l "$mandir/$page" 2>/dev/null)
	# shellcheck disable=SC2086
	for opt in $("$tool" $help_cmd --help | grep -o -- '^ *-[a-zA-Z], --[a-z0-9-]*\|^ *--[a-z0-9-]*' |
		grep -o -- '--[a-z0-9-]*'); do
		if ! printf '%s\n' "$text" | grep -q -- "$opt"; then
			echo "FAIL: $page does not name $opt"
			status=1
		fi
	done
	[ $status -ne $before ] || echo "ok $page"
}

check_page dmapipe.1 ""
n=1
for cmd in $commands; do
	# `dmapipe bench --help` is dmapipe-bench's, which -Dbench=disabled does not build
	if [ "$cmd" = bench ] && [ "$bench" = no-bench ]; then
		echo "ok dmapipe-bench.1 not built (-Dbench=disabled)"
		continue
	fi
	check_page "dmapipe-$cmd.1" "$cmd"
	n=$((n + 1))
done
# no page for a command the tool does not have
for f in "$mandir"/dmapipe-*.1; do
	cmd=${f##*/dmapipe-}
	cmd=${cmd%.1}
	if ! echo "$commands" | grep -qx "$cmd"; then
		echo "FAIL: $f documents '$cmd', which dmapipe --help does not list"
		status=1
	fi
done
[ $status -eq 0 ] && echo "$n pages, each renders without warnings"
exit $status

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-completion-bash.sh TOOL COMPLETION
#
# Drives the bash completion function the way readline does (COMP_WORDS,
# COMP_CWORD, then _dmapipe) and checks COMPREPLY: subcommands, options
# read from the tool's --help, /dev/video* for --device, recordings for
# play and --check, files for -o and --socket, run's elements.
set -u

tool=$1 completion=$2

# shellcheck source=/dev/null
source "$completion" || { echo "FAIL: sourcing $completion"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/dev" "$work/files" "$work/files/sub"
touch "$work/dev/video0" "$work/dev/video1" "$work/dev/null"
touch "$work/files/cam.rec" "$work/files/other.rec" "$work/files/notes.txt" "$work/files/cam.sock"
cd "$work/files" || exit 1
_dmapipe_devdir=$work/dev

status=0
words=()
# complete WORD... --: sets COMP_WORDS to "TOOL WORD..." (the last word the
# one being completed) and runs the completion; the rest of "$@" after --
# is left in args.
complete_words() {
	words=()
	while [ "$1" != -- ]; do
		words+=("$1")
		shift
	done
	shift
	args=("$@")
	COMP_WORDS=("$tool" "${words[@]}")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_dmapipe "$tool" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
}

# expect DESCRIPTION WORD... -- EXPECTED...: the sorted replies are the
# sorted expectation.
expect() {
	local what=$1 got want
	shift
	complete_words "$@"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	want=$(printf '%s\n' "${args[@]}" | sort | tr '\n' ' ')
	if [ "$got" = "$want" ]; then
		echo "ok $what"
	else
		echo "FAIL $what: [${words[*]}] gave '$got', expected '$want'"
		status=1
	fi
}

# contains DESCRIPTION WORD... -- NEEDLE...: the replies include every NEEDLE
contains() {
	local what=$1 n
	shift
	complete_words "$@"
	for n in "${args[@]}"; do
		if ! printf '%s\n' "${COMPREPLY[@]}" | grep -qx -- "$n"; then
			echo "FAIL $what: [${words[*]}] gave '${COMPREPLY[*]}', without '$n'"
			status=1
			return
		fi
	done
	echo "ok $what"
}

commands=$("$tool" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1; next } on { exit }')
# shellcheck disable=SC2086
expect "every subcommand" "" -- $commands help
expect "subcommand prefix" se -- serve
expect "top-level options" - -- --help --version
expect "one option" serve --socket- -- --socket-group --socket-mode
# every long option of `serve --help` (and nothing else)
expect "all of serve's options" serve --d -- --device --direct-io --drain-timeout
contains "short and long options" consume - -- -s --socket -n --frames --policy --json -h --help
expect "a flag takes no value: next is an option or nothing" serve --strict "" --
expect "--device: capture nodes" serve --device "" -- "$work/dev/video0" "$work/dev/video1"
expect "-d: capture nodes" serve -d "$work/dev/video1" -- "$work/dev/video1"
expect "encode --encoder: capture nodes" encode --encoder "" -- "$work/dev/video0" "$work/dev/video1"
expect "play FILE.rec" play "" -- cam.rec other.rec sub
expect "export FILE.rec, a prefix" export c -- cam.rec
expect "record --check FILE.rec" record --check "" -- cam.rec other.rec sub
expect "record --repair FILE.rec" record --repair o -- other.rec
expect "record -o: any file" record -o n -- notes.txt
expect "--socket: files" consume --socket cam. -- cam.rec cam.sock
expect "a numeric value is not completed" serve --fps "" --
expect "run's elements" run "" -- capture= encode= record= rtsp= serve=
expect "run capture=: capture nodes" run capture = "" -- "$work/dev/video0" "$work/dev/video1"
expect "help COMMAND" help re -- record
expect "options after an operand" play cam.rec --lo -- --loop
expect "an unknown subcommand offers nothing" frobnicate --x --
exit $status

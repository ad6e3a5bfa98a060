#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-completion-zsh.sh TOOL COMPLETION
#
# The zsh completion parses (zsh -n), and, run with zsh's completion
# builtins replaced by stubs that print what they are given, offers the
# subcommands from `dmapipe --help` and builds _arguments specs from each
# subcommand's --help: options with their values' completers.
set -u

tool=$1 completion=$2

command -v zsh >/dev/null || { echo "SKIP: zsh not found (apt-get install zsh)"; exit 77; }

zsh -n "$completion" || { echo "FAIL: zsh -n $completion"; exit 1; }
echo "ok zsh -n"

# run WORD...: the completion for the command line "TOOL WORD...", the last
# word being completed, its _arguments/_describe/compadd calls printed.
run() {
	zsh -f -c '
		_arguments() { print -rl -- "$@" }
		_describe() { print -rl -- "${(@P)4}" }
		compadd() { print -r -- "compadd $*" }
		words=("$@"); CURRENT=$#words; PREFIX=$words[-1]
		source "$COMPLETION"' zsh "$tool" "$@"
}
export COMPLETION="$completion"

status=0
has() {
	what=$1 out=$2
	shift 2
	for want; do
		if ! printf '%s\n' "$out" | grep -qxF -- "$want"; then
			echo "FAIL $what: no line '$want' in:"
			printf '%s\n' "$out" | head -20
			status=1
			return
		fi
	done
	echo "ok $what"
}

out=$(run "")
has "subcommands with their summaries" "$out" \
	"serve:produce a stream of test-pattern frames on a socket" \
	"record:record a stream to a file with direct I/O; check or repair recordings" \
	"help:the help of a command"
has "top-level options" "$(run -)" "compadd -- --help --version"

out=$(run serve --so)
has "serve: option specs from its --help" "$out" \
	"--socket=[where to serve the stream]:SOCKET:_files" \
	"-s+[where to serve the stream]:SOCKET:_files" \
	"--device=[serve this V4L2 capture device (/dev/videoN)]:PATH:{compadd -- \$_dmapipe_devdir/video*(N)}" \
	"--reacquire[with --device when the device disappears, keep serving]" \
	"--fps=[frames per second (30000/1001, 29.97), 0 = as fast as]:N[/M]: "
has "record: recordings for --check, files for -o" "$(run record --check x)" \
	'--check=[verify a recording]:FILE:_files -g "*.rec(-.)"' \
	"--output=[the recording to create; - is stdout, which must then]:FILE:_files"
has "play: a recording as operand" "$(run play x)" '*:recording:_files -g "*.rec(-.)"'
has "run: its elements" "$(run run x)" "*:element:{compadd -S '' -- capture= encode= record= serve= rtsp=}"
exit $status

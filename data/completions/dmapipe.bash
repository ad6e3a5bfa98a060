# SPDX-License-Identifier: MIT
#
# bash completion for dmapipe(1).
#
# The subcommands and their options are read from the tool's own --help
# (dmapipe --help, dmapipe CMD --help) the first time they are needed in a
# shell, so they are always the installed tool's. Values: /dev/video* for
# --device and --encoder, recordings (*.rec) for play, export, --check and
# --repair, file names for the options whose value is a FILE, OUT, PATH or
# SOCKET (-o, --socket, ...); run's elements (capture=, encode=, ...).

declare -gA _dmapipe_help_cache
# where the capture nodes are (a variable so the test can point it elsewhere)
_dmapipe_devdir=/dev

# Prints the help of "$@" (the tool, and a subcommand or nothing), once per
# shell: later calls read it from the cache.
_dmapipe_help()
{
	local key="$*"

	if [[ -z ${_dmapipe_help_cache[$key]+set} ]]; then
		_dmapipe_help_cache[$key]=$(LC_ALL=C "$@" --help 2>/dev/null)
	fi
	printf '%s\n' "${_dmapipe_help_cache[$key]}"
}

# The subcommands: the command list of `dmapipe --help`.
_dmapipe_commands()
{
	local line in_list=

	while IFS= read -r line; do
		if [[ $line == Commands: ]]; then
			in_list=1
		elif [[ -n $in_list && $line =~ ^[[:space:]]+([a-z][a-z0-9-]*)[[:space:]]{2,} ]]; then
			printf '%s\n' "${BASH_REMATCH[1]}"
		elif [[ -n $in_list ]]; then
			break
		fi
	done < <(_dmapipe_help "$1")
}

# One line "OPTION PLACEHOLDER" (placeholder empty for a flag) for each
# option of subcommand $2: entries "  -s, --socket PATH   description".
_dmapipe_options()
{
	local line term arg opt

	while IFS= read -r line; do
		[[ $line =~ ^[[:space:]]+(-[^[:space:]].*)$ ]] || continue
		term=${BASH_REMATCH[1]%%  *}
		arg=
		if [[ $term =~ [[:space:]]([^-[:space:]][^[:space:]]*)$ ]]; then
			arg=${BASH_REMATCH[1]}
			term=${term% "$arg"}
		fi
		for opt in ${term//,/ }; do
			[[ $opt == -* ]] && printf '%s %s\n' "$opt" "$arg"
		done
	done < <(_dmapipe_help "$1" "$2")
}

# run's element prefixes: "  capture=DEVICE[...]" lines of its help.
_dmapipe_elements()
{
	local line

	while IFS= read -r line; do
		[[ $line =~ ^[[:space:]]{1,4}([a-z]+)= ]] && printf '%s=\n' "${BASH_REMATCH[1]}"
	done < <(_dmapipe_help "$1" run)
}

_dmapipe_files()
{
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -f -- "$1")
}

_dmapipe_recordings()
{
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -d -- "$1"; compgen -f -X '!*.rec' -- "$1")
}

_dmapipe_video_devices()
{
	local nodes=("$_dmapipe_devdir"/video*)

	[[ -e ${nodes[0]} ]] || return
	mapfile -t COMPREPLY < <(compgen -W "${nodes[*]}" -- "$1")
}

# Completes the value of option $1 of subcommand $2, whose placeholder is $3.
_dmapipe_value()
{
	local opt=$1 cmd=$2 arg=$3 cur=$4

	case $opt in
	--device | -d | --encoder | -e)
		_dmapipe_video_devices "$cur"
		return
		;;
	--check | --repair)
		_dmapipe_recordings "$cur"
		return
		;;
	esac
	case $arg in
	FILE | FILE\|- | OUT | PATH | SOCKET)
		_dmapipe_files "$cur"
		;;
	DIR)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		;;
	esac
}

_dmapipe()
{
	local tool=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]}
	local prev= cmd= i word opt arg

	COMPREPLY=()
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}

	# the subcommand: the first word that is not an option
	for ((i = 1; i < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} != -* ]]; then
			cmd=${COMP_WORDS[i]}
			break
		fi
	done

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_dmapipe_commands "$tool") help" -- "$cur")
		fi
		return
	fi
	if [[ $cmd == help ]]; then
		((COMP_CWORD == i + 1)) &&
			mapfile -t COMPREPLY < <(compgen -W "$(_dmapipe_commands "$tool")" -- "$cur")
		return
	fi

	# run's capture=DEVICE: readline splits the word at '='
	if [[ $cmd == run && $prev == = && ${COMP_WORDS[COMP_CWORD - 2]} == capture ]]; then
		_dmapipe_video_devices "$cur"
		return
	fi

	# the value of the option before the cursor (--opt VALUE or --opt=VALUE)
	opt=$prev
	[[ $prev == = ]] && opt=${COMP_WORDS[COMP_CWORD - 2]}
	[[ $cur == = ]] && { opt=$prev; cur=; }
	if [[ $opt == -* ]]; then
		while read -r word arg; do
			if [[ $word == "$opt" ]]; then
				if [[ -n $arg ]]; then
					_dmapipe_value "$opt" "$cmd" "$arg" "$cur"
					return
				fi
				break
			fi
		done < <(_dmapipe_options "$tool" "$cmd")
	fi

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_dmapipe_options "$tool" "$cmd" |
			while read -r word arg; do printf '%s ' "$word"; done)" -- "$cur")
		return
	fi

	# operands
	case $cmd in
	play | export)
		_dmapipe_recordings "$cur"
		;;
	record)
		_dmapipe_files "$cur"
		;;
	run)
		compopt -o nospace 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -W "$(_dmapipe_elements "$tool")" -- "$cur")
		;;
	esac
}

complete -F _dmapipe dmapipe

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Checks every command README.md and docs/*.md show (tests/docs/extract-commands.sh finds them;
# the convention is docs/README.md, "Commands in these pages") against the code as built:
#
#   vsn, vsnd, vsn-node, vsn-slb, vsn-dpctl   the subcommand and every option exist, by the
#                                             binary's own --help: an option must be in its
#                                             subcommand's entry there, or among the options
#                                             the help gives every subcommand (vsn's API
#                                             options); global options only before the
#                                             subcommand
#   build/PROGRAM                             built, and every option in its --help
#   make TARGET... [BENCH=NAME]               every target a rule of the Makefile; BENCH a
#                                             benchmark scripts/run-bench.sh runs
#   scripts/run-tests.sh TIER...              every tier one the script has
#   scripts/run-bench.sh NAME                 a benchmark the script runs
#   a script of the repository                it exists, and every --option given to it is in
#                                             its source
#   any other program (in a command block)    one this script knows (KNOWN below): a misspelt
#                                             program is an error, not a pass
#   any word that is a path of the repository it exists (docs/..., examples/..., build/...)
#   a function named in a code span, name()   defined in the source
#   a link [text](file.md#anchor)            the file exists, and the anchor is a heading of it
#
# Code spans and synopses may hold placeholders (FILE, [--limit N], a|b): their options and
# subcommands are checked, their placeholders are not.
#
#   tests/docs/check-doc-commands.sh [FILE...]   (default: README.md docs/*.md)
#   B=build/san ...                              the binaries of another build
# Prints one line per problem, FILE:LINE: why, and a summary; exits 1 when there is a problem.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
B=${B:-build}
VSN_TOOLS='vsn vsnd vsn-node vsn-slb vsn-dpctl'

# Programs a command block may run besides vsn's own: shell builtins and the system's tools the
# pages use. A program not here is reported (a typo, or a tool to add here).
KNOWN=' . : [ alias cd echo eval exec exit export false kill printf pwd read set sleep source
	test trap true type ulimit umask unset wait
	apt apt-get awk bpftool cat chmod chown clang cmp cp curl date diff dpkg ethtool git grep
	head install ip jq journalctl ln ls mkdir modprobe mount mv nc nft nginx haproxy nproc
	nsenter openssl ping rm rmdir rsync scp sed sha256sum socat sort sqlite3 ss ssh sysctl
	systemctl tail tar tc tcpdump tee timeout touch umount watch wc xargs '

[ $# -gt 0 ] || set -- README.md docs/*.md

problems=0 checked=0
problem() { # FILE LINE MESSAGE
	echo "$1:$2: $3"
	problems=$((problems + 1))
}

# ---- What the binaries say they take ----

# HELP_CMDS[tool]: its subcommands (" ca create cert issue ..." as "ca_create cert_issue");
# HELP_FLAGS[tool/cmd]: the options of a subcommand's entry; HELP_COMMON[tool]: options every
# subcommand takes; HELP_GLOBAL[tool]: options before the subcommand (those taking a value
# marked "=": " --pin-dir= "); HELP_ALL[tool]: every option (for tools without subcommands).
declare -A HELP_CMDS=() HELP_FLAGS=() HELP_COMMON=() HELP_GLOBAL=() HELP_ALL=() HELP_OK=()

# The options (-x, --xy-z) a text names.
flags_of() {
	grep -oE '(^|[^A-Za-z0-9_-])--?[A-Za-z][A-Za-z0-9-]*' | sed -E 's/^[^-]*//' | sort -u |
		tr '\n' ' '
}

help_load() { # TOOL
	local tool=$1 bin=$B/$1 text line name args

	[ -n "${HELP_OK[$tool]:-}" ] && return "${HELP_OK[$tool]}"
	HELP_OK[$tool]=1
	[ -x "$bin" ] || return 1
	text=$("$bin" --help 2>&1)
	HELP_OK[$tool]=0
	# Every option: those of the usage (up to its first blank line) and of the lines that
	# define options (their option part: up to two blanks).
	HELP_ALL[$tool]=" $({
		awk 'tolower($0) ~ /^usage:/ { on = 1 } on && /^$/ { exit } on' <<<"$text"
		sed -nE 's/^ +(-[^ ]*( [^ ]+)*).*/\1/p' <<<"$text"
	} | flags_of) --help -h "
	# The usage line: options before COMMAND are global; "--opt VALUE" takes a value.
	line=$(grep -m1 -iE '^usage:' <<<"$text")
	HELP_GLOBAL[$tool]=" --help -h "
	if grep -q ' COMMAND' <<<"$line"; then
		line=${line%% COMMAND*}
		while read -r name args; do
			[ -n "$name" ] || continue
			case "$args" in [A-Z]*) name="$name=" ;; esac
			HELP_GLOBAL[$tool]+="$name "
		done < <(grep -oE '\[--?[A-Za-z][A-Za-z0-9-]*( [A-Z][A-Z_]*)?' <<<"$line" | tr -d '[')
	fi
	# The Commands: section: an entry starts at two spaces, its continuation lines indent more.
	# A second lower-case word is part of the name (vsn's "cert issue").
	HELP_CMDS[$tool]=' '
	HELP_COMMON[$tool]=' '
	local in=0 cur='' after='' re_entry='^  ([a-z][a-z0-9-]*)( ([a-z]+))?( |$)' re_cont='^   '
	while IFS= read -r line; do
		if [ "$line" = "Commands:" ]; then
			in=1
			continue
		fi
		if [ $in = 1 ] && [[ $line =~ $re_entry ]]; then
			cur=${BASH_REMATCH[1]}
			[ -n "${BASH_REMATCH[3]}" ] && cur+="_${BASH_REMATCH[3]}"
			HELP_CMDS[$tool]+="$cur "
			HELP_FLAGS[$tool/$cur]=" $(flags_of <<<"${line#  "${cur/_/ }"}")"
			continue
		fi
		if [ $in = 1 ] && [[ $line =~ $re_cont ]] && [ -n "$cur" ]; then
			HELP_FLAGS[$tool/$cur]+=" $(flags_of <<<"$line")"
			continue
		fi
		if [ $in = 1 ] && [ -n "$cur" ]; then
			in=2
		fi
		# After the commands: indented option lines are options every command takes.
		[ $in = 2 ] && [[ $line =~ ^\ +- ]] && after+="$line"$'\n'
	done <<<"$text"
	HELP_COMMON[$tool]=" $(flags_of <<<"$after") "
	return 0
}

# ---- Targets, tiers, benchmarks ----

MAKE_TARGETS=" $(grep -hoE '^[A-Za-z0-9_.-]+( [A-Za-z0-9_.-]+)*:([^=]|$)' Makefile |
	sed -E 's/:.*//' | tr '\n' ' ') $(sed -n 's/^\.PHONY://p' Makefile | tr '\n' ' ') "
TIERS=" $(sed -nE 's/^tier_([a-z]+)\(\).*/\1/p' scripts/run-tests.sh | tr '\n' ' ') "
BENCHES=" $(sed -nE 's/.*usage: \$0 \[([a-z|]+)\].*/\1/p' scripts/run-bench.sh | tr '|' ' ') "

# ---- The checks of one command ----

is_placeholder() { [[ $1 =~ ^[A-Z][A-Z0-9_]*$ || $1 == *...* || $1 == '-' ]]; }

# A word naming a file of the repository must name one (globs must match one).
check_path() { # FILE LINE WORD
	local w=${3#./} repo='^(build|scripts|tests|docs|examples|dist|bench|bench-[a-z]+|include|lib|bpf|proto|cli|node|vsnd|slb|dpctl)/'
	local holder='/[A-Z][A-Z_]*(/|[.]|$)'
	[[ $w =~ $repo ]] || return 0
	[[ $w =~ $holder || $w == *'$'* || $w == *...* ]] && return 0
	w=${w%%[,;:)]}
	if [[ $w == *[\*\?\[]* ]]; then
		compgen -G "$w" >/dev/null || problem "$1" "$2" "no file matches $w"
	elif [ ! -e "$w" ]; then
		problem "$1" "$2" "$w does not exist"
	fi
}

# check_tool FILE LINE KIND TOOL ARGS...: a vsn program's subcommand and options.
check_tool() {
	local f=$1 l=$2 kind=$3 tool=$4 w name i=0 cmd='' n
	shift 4
	local args=("$@")

	if ! help_load "$tool"; then
		problem "$f" "$l" "$B/$tool is not built (make all), so '$tool' cannot be checked"
		return
	fi
	n=${#args[@]}
	# Options before the subcommand.
	while [ $i -lt $n ] && [[ ${args[$i]} == -?* ]]; do
		w=${args[$i]%%=*}
		if [ "${HELP_CMDS[$tool]}" = ' ' ]; then
			break
		elif [[ ${HELP_GLOBAL[$tool]} == *" $w= "* ]]; then
			[[ ${args[$i]} == *=* ]] || i=$((i + 1))
		elif [[ ${HELP_GLOBAL[$tool]} != *" $w "* ]]; then
			problem "$f" "$l" "$tool has no option $w before its command ($tool --help)"
		fi
		i=$((i + 1))
	done
	if [ "${HELP_CMDS[$tool]}" = ' ' ]; then
		# No subcommands (vsnd, vsn-node): every option is one the help names.
		for ((; i < n; i++)); do
			w=${args[$i]%%=*}
			[[ $w == -?* ]] || continue
			[[ $w =~ ^-[0-9] ]] && continue
			[[ ${HELP_ALL[$tool]} == *" $w "* ]] ||
				problem "$f" "$l" "$tool has no option $w ($tool --help)"
		done
		return
	fi
	[ $i -lt $n ] || return 0
	name=${args[$i]}
	if [[ ${HELP_CMDS[$tool]} == *" ${name}_"* ]]; then
		# A group of two-word commands (vsn cert issue).
		cmd="${name}_${args[$((i + 1))]:-}"
		if [[ ${HELP_CMDS[$tool]} != *" $cmd "* ]]; then
			problem "$f" "$l" "$tool has no command '$name ${args[$((i + 1))]:-}' ($tool --help)"
			return
		fi
		i=$((i + 2))
	elif [[ ${HELP_CMDS[$tool]} == *" $name "* ]]; then
		cmd=$name
		i=$((i + 1))
	else
		problem "$f" "$l" "$tool has no command '$name' ($tool --help)"
		return
	fi
	for ((; i < n; i++)); do
		w=${args[$i]%%=*}
		[[ $w == -?* ]] || continue
		[[ $w =~ ^-[0-9] ]] && continue
		[[ ${HELP_FLAGS[$tool/$cmd]} == *" $w "* || ${HELP_COMMON[$tool]} == *" $w "* ]] ||
			problem "$f" "$l" "$tool ${cmd/_/ } has no option $w ($tool --help)"
	done
}

# check_program FILE LINE KIND WORDS...: one simple command.
check_program() {
	local f=$1 l=$2 kind=$3 p w base i
	shift 3
	local words=("$@")

	# Assignments and wrappers in front of the program.
	while [ ${#words[@]} -gt 0 ]; do
		w=${words[0]}
		if [[ $w =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then
			words=("${words[@]:1}")
		elif [[ $w =~ ^(sudo|env|nohup|time|exec|command|nsenter|timeout)$ ]]; then
			words=("${words[@]:1}")
			[ "$w" = timeout ] && words=("${words[@]:1}")
			while [ ${#words[@]} -gt 0 ] && [[ ${words[0]} == -* ]]; do
				words=("${words[@]:1}")
			done
		elif [ "$w" = ip ] && [ "${words[1]:-}" = netns ] && [ "${words[2]:-}" = exec ]; then
			words=("${words[@]:4}")
		else
			break
		fi
	done
	[ ${#words[@]} -gt 0 ] || return 0
	p=${words[0]}
	base=${p##*/}
	checked=$((checked + 1))
	for w in "${words[@]:1}"; do
		check_path "$f" "$l" "$w"
	done
	if [[ " $VSN_TOOLS " == *" $base "* ]] &&
		[[ $p == "$base" || $p == */build/$base || $p == build/$base ||
			$p == build/san/$base || $p == */bin/$base || $p == */sbin/$base ]]; then
		check_tool "$f" "$l" "$kind" "$base" "${words[@]:1}"
		return
	fi
	case "$p" in
	make)
		for w in "${words[@]:1}"; do
			case "$w" in
			BENCH=*)
				is_placeholder "${w#BENCH=}" || [[ $BENCHES == *" ${w#BENCH=} "* ]] ||
					problem "$f" "$l" "make bench: no benchmark '${w#BENCH=}' (scripts/run-bench.sh:$BENCHES)"
				;;
			*=* | -*) ;;
			*)
				is_placeholder "$w" || [[ $MAKE_TARGETS == *" $w "* ]] ||
					problem "$f" "$l" "the Makefile has no target '$w'"
				;;
			esac
		done
		return
		;;
	./build/* | build/*)
		p=${p#./}
		if [ ! -e "$p" ]; then
			check_path "$f" "$l" "$p"
			return
		fi
		[ -x "$p" ] || return 0
		[ -d "$p" ] && return
		local help
		help=" $("$p" --help 2>&1 | flags_of) "
		for w in "${words[@]:1}"; do
			w=${w%%=*}
			[[ $w == -?* ]] || continue
			[[ $help == *" $w "* ]] || problem "$f" "$l" "$p has no option $w ($p --help)"
		done
		return
		;;
	scripts/* | tests/* | examples/* | docs/* | dist/* | ./scripts/* | ./tests/*)
		p=${p#./}
		check_path "$f" "$l" "$p"
		[ -f "$p" ] || return
		case "$p" in
		scripts/run-tests.sh)
			for w in "${words[@]:1}"; do
				is_placeholder "$w" || [[ $TIERS == *" $w "* ]] ||
					problem "$f" "$l" "scripts/run-tests.sh has no tier '$w' (it has:$TIERS)"
			done
			;;
		scripts/run-bench.sh)
			w=${words[1]:-}
			[ -z "$w" ] || is_placeholder "$w" || [[ $BENCHES == *" $w "* ]] ||
				problem "$f" "$l" "scripts/run-bench.sh has no benchmark '$w' (it has:$BENCHES)"
			;;
		esac
		for w in "${words[@]:1}"; do
			w=${w%%=*}
			[[ $w == --?* ]] || continue
			grep -qF -- "$w" "$p" || problem "$f" "$l" "$p does not take $w (not in its source)"
		done
		return
		;;
	esac
	# Any other program: spans and synopses mention more than commands; blocks must not.
	[ "$kind" = cmd ] || return 0
	case "$p" in
	/* | *'$'* | '(' | ')' | '{' | '}') return ;;
	esac
	[[ $KNOWN == *[[:space:]]"$p"[[:space:]]* ]] ||
		problem "$f" "$l" "unknown program '$p' (a typo? a tool the pages may use goes in KNOWN of $0)"
}

# ---- Split each command into simple commands ----

# Per simple command one line: FILE LINE KIND, then its words, all separated by \x1f. Shell
# quoting is undone; $(...) becomes a word of its own and its content a command of its own;
# redirections and comments go. Spans and synopses are split at blanks after their brackets,
# braces and bars are taken out.
split_commands() {
	awk -F'\t' '
	function out(w) { if (skip) { skip = 0; return } CMD = CMD "\037" w }
	function endcmd() { if (CMD != "") print PREFIX CMD; CMD = "" }
	function word_end() { if (inw) out(W); W = ""; inw = 0 }
	function sh(s,   i, n, c, d, q, depth, inner, j) {
		n = length(s)
		q = ""
		for (i = 1; i <= n; i++) {
			c = substr(s, i, 1)
			if (q == "\047") {
				if (c == "\047") q = ""; else W = W c
				continue
			}
			if (c == "$" && substr(s, i + 1, 1) == "(") {
				depth = 0
				for (j = i + 1; j <= n; j++) {
					d = substr(s, j, 1)
					if (d == "(") depth++
					else if (d == ")" && --depth == 0) break
				}
				inner = substr(s, i + 2, j - i - 2)
				SUBS[++NSUB] = inner
				W = W "$(...)"
				inw = 1
				i = j
				continue
			}
			if (q == "\"") {
				if (c == "\\") { W = W substr(s, ++i, 1); continue }
				if (c == "\"") q = ""; else W = W c
				continue
			}
			if (c == "\047" || c == "\"") { q = c; inw = 1; continue }
			if (c == "\\") { W = W substr(s, ++i, 1); inw = 1; continue }
			if (c == " " || c == "\t") { word_end(); continue }
			if (c == "#" && !inw) break
			if (c == "|" || c == ";" || (c == "&" && substr(s, i + 1, 1) != ">") || c == "(" || c == ")") {
				word_end()
				endcmd()
				continue
			}
			if (c == ">" || c == "<" || c == "&") {
				if (inw && W ~ /^[0-9]+$/) { W = ""; inw = 0 }
				word_end()
				while (substr(s, i + 1, 1) ~ /[<>&-]/) i++
				if (substr(s, i, 1) == "&" && substr(s, i + 1, 1) ~ /[0-9]/) { i++; continue }
				skip = 1
				continue
			}
			W = W c
			inw = 1
		}
		word_end()
		endcmd()
		skip = 0
	}
	{
		PREFIX = $1 "\037" $2 "\037" $3
		CMD = ""
		if ($3 == "cmd") {
			NSUB = 0
			sh($5)
			for (k = 1; k <= NSUB; k++) sh(SUBS[k])
			next
		}
		s = $5
		first = s
		sub(/[ ].*/, "", first)
		if (first ~ /\//) {
			CMD = "\037" first
			s = substr(s, length(first) + 1)
		}
		gsub(/[][(){}|]/, " ", s)
		n = split(s, a, /[ ]+/)
		for (k = 1; k <= n; k++) if (a[k] != "" && a[k] != "...") CMD = CMD "\037" a[k]
		endcmd()
	}'
}

# ---- Run ----

if [ "${1:-}" = --dump-help ]; then
	for t in $VSN_TOOLS; do
		help_load "$t" || continue
		echo "$t: global [${HELP_GLOBAL[$t]}] common [${HELP_COMMON[$t]}] commands [${HELP_CMDS[$t]}]"
		for c in ${HELP_CMDS[$t]}; do echo "  $c: ${HELP_FLAGS[$t/$c]}"; done
		[ "${HELP_CMDS[$t]}" = ' ' ] && echo "  all: ${HELP_ALL[$t]}"
	done
	exit 0
fi

extracted=$(tests/docs/extract-commands.sh "$@") || exit 1
while IFS=$'\t' read -r _ f l msg; do
	problem "$f" "$l" "$msg"
done < <(grep -a '^!' <<<"$extracted")

while IFS=$'\x1f' read -r -a rec; do
	[ ${#rec[@]} -ge 4 ] || continue
	check_program "${rec[0]}" "${rec[1]}" "${rec[2]}" "${rec[@]:3}"
done < <(grep -av '^!' <<<"$extracted" | split_commands)

# Every function a page names in a code span (`name()`) is defined in the source, so that a
# walk through the code cannot name a function that was renamed; kernel helpers and the C
# library's functions the pages mention are known by name.
EXTERNAL_FNS=' bpf localtime_r tzset setns unshare pivot_root '
defined=$(grep -rhoE '^[A-Za-z_][^;=]*[ *][A-Za-z_][A-Za-z0-9_]*\(|^[A-Za-z_][A-Za-z0-9_]*\(|\(\*[A-Za-z_][A-Za-z0-9_]*\)\(|define [A-Za-z_][A-Za-z0-9_]*\(' \
	--include='*.c' --include='*.h' bpf lib node vsnd cli dpctl slb include bench bench-agent \
	bench-controller bench-probe tests 2>/dev/null |
	grep -oE '[A-Za-z_][A-Za-z0-9_]*\)?\($' | tr -d '()' | sort -u | tr '\n' ' ')
fns=0
for f in "$@"; do
	while IFS=: read -r l name; do
		name=${name//\`/}
		name=${name%()}
		fns=$((fns + 1))
		[[ " $defined " == *" $name "* || $EXTERNAL_FNS == *" $name "* || $name == bpf_* ]] ||
			problem "$f" "$l" "$name() is defined nowhere in the source"
	done < <(grep -noE '`[A-Za-z_][A-Za-z0-9_]*\(\)`' "$f")
done

# Every link to a file of the repository finds it, and its #anchor a heading there (GitHub's
# anchors: lower case, punctuation dropped, blanks as '-', '-1', '-2' for a repeated one).
anchors_of() {
	awk '/^[ ]*```/ { f = !f; next }
		!f && /^#+ / {
			s = tolower($0)
			sub(/^#+ /, "", s)
			gsub(/[^a-z0-9 _-]/, "", s)
			gsub(/ /, "-", s)
			print (seen[s]++ ? s "-" (seen[s] - 1) : s)
		}' "$1"
}
links=0
for f in "$@"; do
	dir=$(dirname "$f")
	while IFS=: read -r l link; do
		t=${link#](}
		t=${t%)}
		target=${t%%#*}
		anchor=''
		[[ $t == *#* ]] && anchor=${t#*#}
		links=$((links + 1))
		path=$f
		[ -n "$target" ] && path=$dir/$target
		if [ ! -e "$path" ]; then
			problem "$f" "$l" "the link to $target finds no file"
		elif [ -n "$anchor" ] && [[ $path == *.md ]] &&
			! anchors_of "$path" | grep -qxF -- "$anchor"; then
			problem "$f" "$l" "the link to ${target:-this page}#$anchor finds no heading there"
		fi
	done < <(grep -noE '\]\([^)#:[:space:]]*(#[^)[:space:]]*)?\)' "$f")
done

echo "checked $checked commands, $fns functions and $links links of $# files: $problems problems"
[ "$problems" -eq 0 ]

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The commands README.md and docs/*.md show, by the convention of docs/README.md ("Commands in
# these pages"):
#
#   ```console   a transcript: a line '$ COMMAND' (or 'HOST$ COMMAND': the machine it runs on)
#                is a command; the lines up to the next prompt are its output ('...' elides)
#   ```sh        a script (also ```shell, ```bash): every line that is not blank or a comment
#                is a command; it shows no output
#   any other    not commands; but a prompt line there is an error (a command the checks would
#   block        not see), and a line starting with a vsn program's name is a synopsis
#   `code span`  a command mentioned in the text when it starts with a vsn program, make, or a
#                path of the repository (build/, scripts/, tests/, docs/, examples/)
#
# A command continues on the next line after a trailing backslash, and through the body of a
# here-document (<<EOF ... EOF).
#
#   extract-commands.sh FILE...          one line per command, TAB-separated:
#                                        FILE LINE KIND HOST TEXT
#                                        KIND: cmd (console, sh), syn (synopsis), span;
#                                        continuations joined, here-document bodies left out
#   extract-commands.sh --run FILE...    for running a page: per command a line
#                                        'c FILE LINE HOST', its text as 't TEXT' lines (as
#                                        written, here-documents included), its output as
#                                        'o TEXT' lines (TAB after the letter)
#
# Convention errors are lines '! FILE LINE MESSAGE' (TAB-separated) in either mode.
set -u

mode=list
if [ "${1:-}" = --run ]; then
	mode=run
	shift
fi
[ $# -gt 0 ] || {
	echo "usage: $0 [--run] FILE..." >&2
	exit 2
}

exec awk -v mode="$mode" '
function err(line, msg) { printf "!\t%s\t%d\t%s\n", FN, line, msg }

# A prompt: "$ " or "HOST$ " at the start of a line. Sets P_HOST and P_TEXT.
function prompt(s) {
	if (substr(s, 1, 2) == "$ ") {
		P_HOST = ""
		P_TEXT = substr(s, 3)
		return 1
	}
	if (match(s, /^[a-z][a-z0-9-]*\$ /)) {
		P_HOST = substr(s, 1, RLENGTH - 2)
		P_TEXT = substr(s, RLENGTH + 1)
		return 1
	}
	return 0
}

# The here-document delimiter a command line opens, or "".
function heredoc(s,   d) {
	if (!match(s, /<<-?[ ]*[\047"]?[A-Za-z_][A-Za-z0-9_]*/))
		return ""
	d = substr(s, RSTART, RLENGTH)
	sub(/^<<-?[ ]*[\047"]?/, "", d)
	return d
}

function continued(s) { return s ~ /(^|[^\\])(\\\\)*\\$/ }

function cmd_begin(line, host, text) {
	C_LINE = line
	C_HOST = host
	C_JOINED = ""
	C_OPEN = 1
	if (mode == "run")
		printf "c\t%s\t%d\t%s\n", FN, line, host
	cmd_line(text)
}

# One line of the command being read: its text, or a line of its here-document.
function cmd_line(text,   t) {
	if (mode == "run")
		printf "t\t%s\n", text
	if (C_HEREDOC != "") {
		t = text
		sub(/^\t+/, "", t)
		if (t == C_HEREDOC)
			C_HEREDOC = ""
		return
	}
	t = text
	C_CONT = continued(t)
	if (C_CONT)
		sub(/\\$/, "", t)
	C_JOINED = C_JOINED (C_JOINED == "" ? "" : " ") t
	C_HEREDOC = heredoc(text)
}

function cmd_end() {
	if (!C_OPEN)
		return
	if (C_HEREDOC != "")
		err(C_LINE, "here-document <<" C_HEREDOC " does not end in its block")
	else if (C_CONT)
		err(C_LINE, "the command ends with a backslash at the end of its block")
	if (mode == "list")
		printf "%s\t%d\tcmd\t%s\t%s\n", FN, C_LINE, C_HOST, C_JOINED
	C_OPEN = 0
	C_HEREDOC = ""
	C_CONT = 0
}

# Code spans of the paragraph gathered so far (a span may cross a line break).
function para_flush(   s, i, n, j, k, k2, line, span) {
	s = PARA
	n = length(s)
	i = 1
	while (i <= n) {
		if (substr(s, i, 1) != "`") {
			i++
			continue
		}
		for (j = i + 1; j <= n && substr(s, j, 1) == "`"; j++)
			;
		if (j - i > 1) { # a ``double`` span or a stray fence: skip it
			i = j
			continue
		}
		k = index(substr(s, j), "`")
		if (!k)
			break
		span = substr(s, j, k - 1)
		line = PARA_LINE
		for (k2 = 1; k2 <= PARA_N; k2++)
			if (PARA_OFF[k2] <= i)
				line = PARA_LNO[k2]
		span_emit(line, span)
		i = j + k
	}
	PARA = ""
	PARA_N = 0
}

function span_emit(line, s,   w) {
	gsub(/\\\|/, "|", s)
	sub(/^[ ]+/, "", s)
	w = s
	sub(/[ ].*/, "", w)
	if (w ~ /^(vsn|vsnd|vsn-node|vsn-slb|vsn-dpctl|make)$/ ||
	    w ~ /^(\.\/)?(build|scripts|tests|docs|examples)\//)
		if (mode == "list")
			printf "%s\t%d\tspan\t\t%s\n", FN, line, s
}

FNR == 1 {
	if (NR > 1) {
		cmd_end()
		para_flush()
		if (FENCE)
			err(FENCE_LINE, "a code block that does not end")
	}
	FN = FILENAME
	FENCE = 0
	PARA = ""
	PARA_N = 0
}

{
	raw = $0
	sub(/\r$/, "", raw)
	body = raw
	sub(/^[ ]+/, "", body)
}

# A fence opens or closes a block.
substr(body, 1, 3) == "```" {
	if (!FENCE) {
		para_flush()
		FENCE = 1
		FENCE_LINE = FNR
		OUT_ERR = 0
		LANG = substr(body, 4)
		sub(/[ ].*/, "", LANG)
		INDENT = length(raw) - length(body)
	} else {
		cmd_end()
		FENCE = 0
	}
	next
}

!FENCE {
	if (body == "") {
		para_flush()
		next
	}
	PARA_N++
	PARA_OFF[PARA_N] = length(PARA) + 1 + (PARA == "" ? 0 : 1)
	PARA_LNO[PARA_N] = FNR
	if (PARA == "")
		PARA_LINE = FNR
	PARA = PARA (PARA == "" ? "" : " ") body
	next
}

# Inside a block: the text as written, less the indentation of its fence.
{
	text = raw
	if (INDENT > 0 && substr(text, 1, INDENT) ~ /^[ ]+$/)
		text = substr(text, INDENT + 1)
}

LANG == "console" {
	if (C_OPEN && (C_CONT || C_HEREDOC != "")) {
		cmd_line(text)
		next
	}
	if (prompt(text)) {
		cmd_end()
		cmd_begin(FNR, P_HOST, P_TEXT)
		next
	}
	if (!C_OPEN) {
		if (text != "" && !OUT_ERR) {
			err(FNR, "output before the first command of a console block")
			OUT_ERR = 1
		}
		next
	}
	if (mode == "run")
		printf "o\t%s\n", text
	next
}

LANG == "sh" || LANG == "shell" || LANG == "bash" {
	if (C_OPEN && (C_CONT || C_HEREDOC != "")) {
		cmd_line(text)
		next
	}
	cmd_end()
	if (prompt(text)) {
		err(FNR, "a prompt in a ```" LANG " block: a transcript goes in a ```console block")
		next
	}
	if (text ~ /^[ \t]*(#|$)/)
		next
	cmd_begin(FNR, "", text)
	next
}

{
	if (prompt(text))
		err(FNR, "a prompt in a ```" LANG " block: commands go in ```console or ```sh blocks")
	else if (match(text, /^(vsn|vsnd|vsn-node|vsn-slb|vsn-dpctl)( |$)/) && mode == "list")
		printf "%s\t%d\tsyn\t\t%s\n", FN, FNR, text
}

END {
	cmd_end()
	para_flush()
	if (FENCE)
		err(FENCE_LINE, "a code block that does not end")
}
' "$@"

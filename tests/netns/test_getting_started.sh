#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# docs/getting-started.md, run: every command the page shows, in the page's order and as written
# (tests/docs/extract-commands.sh --run reads them), each on the machine its prompt names, and
# its output compared with the output the page shows. The machines are sandboxes: each a network
# namespace on one bridge (the page's LAN) and a mount namespace whose root is an overlay of this
# machine's root file system (writes go to a tmpfs), with a bpffs of its own and the repository at
# /usr/src/vsn (an overlay view of it: a build there writes nothing here). So the page's absolute
# paths (/etc/vsn, /var/lib/vsn, /usr/local/sbin) and its default pin dirs are the sandbox's.
# Root only (exit 77 otherwise). Prints TAP lines, one per command, and closes with
# "N passed, M failed".
#
#  +--------------------------------- ns gs<PID>-lan: bridge br0 ----------------------------------+
#  |        p-ctl                 p-node1 (gro on)            p-slb1               p-client        |
#  +----------|-----------------------|-----------------------|--------------------|---------------+
#             | veth                  | veth                  | veth               | veth
#  +----------+-------+   +-----------+--------+   +----------+---------+   +-------+-----------+
#  | ctl  eth0        |   | node1 eth0         |   | slb1 eth0          |   | client eth0       |
#  |   10.0.0.1/24    |   |   10.0.0.2/24      |   |   10.0.0.3/24      |   |   10.0.0.100/24   |
#  | vsnd, vsn        |   | vsn-node, XDP      |   | nginx, decap XDP,  |   | curl              |
#  |                  |   |   forwarder (ipip) |   |   VIP on lo        |   |                   |
#  +------------------+   +--------------------+   +--------------------+   +-------------------+
#
# How the page maps to the sandboxes:
#   - 'HOST$ ' runs on HOST; a bare '$ ' on each of ctl, node1 and slb1 (the page says so).
#   - Each machine keeps a shell session: the working directory and the exported variables
#     carry from one command to the next, as in a terminal.
#   - A command ending in '&' starts a daemon; the next command runs a second later.
#   - Shown output must match what the command printed (stdout and stderr, as a terminal shows
#     them), line by line after blanks are squeezed; a line '...' stands for any lines. A
#     command that only reads (vsn status, vsn events, curl, ...) is run again until it does,
#     for up to 10 s, as a person would look again; any other runs once and must exit 0.
#   - Stand-ins, the only commands not run as written (the sandboxes have no network and no
#     sshd): 'apt-get install' installs nothing, the packages being here already (make deps
#     checks that); for nginx it starts nginx, as the Debian package does on install. 'scp
#     FILES root@ADDR:DIR' copies the files into the sandbox that has ADDR.
#
#   VSN_VERBOSE=1 ...      narrates cleanup
#   VSN_LOG_DIR=DIR ...    keeps every command's output and the daemons' logs
#   VSN_GS_DOC=FILE ...    runs another copy of the page
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOC=${VSN_GS_DOC:-$VSN_ROOT/docs/getting-started.md}
EXTRACT=$VSN_ROOT/tests/docs/extract-commands.sh
P=gs$$-
MACHINES='ctl node1 slb1 client'
VSN_MACHINES='ctl node1 slb1' # a bare '$ '
declare -A ADDR=([ctl]=10.0.0.1 [node1]=10.0.0.2 [slb1]=10.0.0.3 [client]=10.0.0.100)
READONLY='^(vsn (status|events|history|get|diff)|curl|cat|vsn-dpctl (show|counters|flows)|vsn-slb show)( |$)'
RETRY_S=10
S='' S_BOUND=''

# ---- Sandboxes ----

# sandbox_make NAME: the machine's network namespace (registered for cleanup) and its mount
# namespace, held by the bind mount $S/NAME.mnt.
sandbox_make() {
	local m=$1 r=$S/root-$1

	vsn_register netns "$P$m"
	ip netns add "$P$m" || return 1
	vsn_ns "$P$m" ip link set dev lo up || return 1
	vsn_ns "$P$m" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 ||
		return 1
	mkdir -p "$r" && touch "$S/$m.mnt" "$S/$m.uts" || return 1
	printf '%s\n' "$S/$m.mnt" "$S/$m.uts" >>"$S/mounts"
	unshare --mount="$S/$m.mnt" --uts="$S/$m.uts" --propagation private bash -e -c '
		r=$1 repo=$2
		hostname "$3"
		mount -t tmpfs -o mode=0755 tmpfs "$r"
		mkdir "$r/upper" "$r/work" "$r/root" "$r/src-upper" "$r/src-work"
		mount -t overlay overlay -o "lowerdir=/,upperdir=$r/upper,workdir=$r/work" "$r/root"
		mount --rbind /proc "$r/root/proc"
		mount --rbind /sys "$r/root/sys"
		mount -t bpf bpf "$r/root/sys/fs/bpf"
		mount --rbind /dev "$r/root/dev"
		mount -t tmpfs -o mode=1777 tmpfs "$r/root/tmp"
		mount -t tmpfs -o mode=0755 tmpfs "$r/root/run"
		mkdir -p "$r/root/usr/src/vsn" "$r/root/run/session"
		# The checkout as an overlay of its own: wherever it is (under /tmp, or on a
		# file system of its own), the root overlay would not show it.
		mount -t overlay overlay \
			-o "lowerdir=$repo,upperdir=$r/src-upper,workdir=$r/src-work" \
			"$r/root/usr/src/vsn"
		echo /root >"$r/root/run/session/cwd"
		mkdir "$r/root/.old"
		cd "$r/root"
		pivot_root . .old
		umount -l /.old
		rmdir /.old
	' _ "$r" "$VSN_ROOT" "$m"
}

# in_box MACHINE CMD...: CMD in the machine, outside its shell session.
in_box() {
	local m=$1
	shift
	nsenter --net="/run/netns/$P$m" --mount="$S/$m.mnt" --uts="$S/$m.uts" -- "$@"
}

# The page's LAN: a bridge in a namespace of its own, one veth to each machine.
lan_build() {
	local m

	vsn_register netns "${P}lan"
	ip netns add "${P}lan" || return 1
	vsn_ns "${P}lan" ip link add br0 type bridge &&
		vsn_ns "${P}lan" ip link set br0 up || return 1
	for m in $MACHINES; do
		ip link add name eth0 netns "$P$m" type veth peer name "p-$m" netns "${P}lan" ||
			return 1
		# Checksums in software on every sending veth; GRO where node1's XDP_TX lands.
		vsn_ns "$P$m" ethtool -K eth0 tx off >/dev/null &&
			vsn_ns "${P}lan" ethtool -K "p-$m" tx off gro on >/dev/null &&
			vsn_ns "${P}lan" ip link set "p-$m" master br0 &&
			vsn_ns "${P}lan" ip link set "p-$m" up &&
			vsn_ns "$P$m" ip addr add "${ADDR[$m]}/24" dev eth0 &&
			vsn_ns "$P$m" ip link set eth0 up || return 1
	done
	for m in node1 slb1 client; do
		for i in $(seq 1 20); do
			vsn_ns "${P}ctl" ping -c 1 -W 1 "${ADDR[$m]}" >/dev/null 2>&1 && continue 2
		done
		echo "no answer from $m (${ADDR[$m]})"
		return 1
	done
}

# ---- The stand-ins ----

# standin MACHINE TEXT: 0 when TEXT is a command the sandbox stands in for (done here), 1 when it
# is to be run as written. STANDIN says what was done.
STANDIN=''
standin() {
	local m=$1 text=$2 files dst addr to f

	case "$text" in
	"apt-get install"*)
		STANDIN="the packages are here already"
		if [[ $text == *nginx* ]]; then
			in_box "$m" nginx || return 2
			STANDIN="nginx started, as its Debian package does"
		fi
		return 0
		;;
	"scp "*)
		read -r -a files <<<"${text#scp }"
		dst=${files[-1]}
		unset 'files[-1]'
		addr=${dst#*@}
		addr=${addr%%:*}
		for to in $MACHINES; do [ "${ADDR[$to]}" = "$addr" ] && break; done
		[ "${ADDR[$to]}" = "$addr" ] || return 2
		for f in "${files[@]}"; do
			in_box "$m" bash -c "cd \"\$(cat /run/session/cwd)\" && cat '$f'" |
				in_box "$to" bash -c "cat >'${dst#*:}/${f##*/}'" || return 2
		done
		STANDIN="copied into $to"
		return 0
		;;
	esac
	return 1
}

# ---- Running a command in a machine's session ----

# The session: the working directory and the exported variables, kept in /run/session.
# shellcheck disable=SC2016 # expanded in the sandbox
SESSION='cd "$(cat /run/session/cwd)" || exit 1
[ -f /run/session/env ] && . /run/session/env
eval "$GS_CMD"
rc=$?
pwd >/run/session/cwd
export -p | grep -vE "^declare -x (GS_CMD|PWD|OLDPWD|SHLVL|_)=" >/run/session/env
exit $rc'

# run_in MACHINE TEXT OUTFILE: TEXT in the machine's session; its exit status.
run_in() {
	in_box "$1" env -i HOME=/root USER=root LOGNAME=root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GS_CMD="$2" \
		bash --noprofile --norc -c "$SESSION" </dev/null >"$3" 2>&1
}

# output_matches EXPECTED ACTUAL: the page's output against the command's, blanks squeezed and
# trailing ones dropped. A line '...' stands for any lines (none too), '...' within a line for
# any text, and a time (2026-11-27T07:53:30.802Z) for any time.
output_matches() {
	awk '
	function norm(s,   t) {
		gsub(/[ \t]+/, " ", s)
		sub(/ $/, "", s)
		t = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9][.0-9]*Z"
		gsub(t, "<time>", s)
		return s
	}
	# One line of the page against one printed: "..." in it matches any text.
	function same(e, a,   n, p, k, i, pos) {
		if (e == a) return 1
		n = split(e, p, /[.][.][.]/)
		if (n < 2) return 0
		if (substr(a, 1, length(p[1])) != p[1]) return 0
		pos = length(p[1]) + 1
		for (i = 2; i < n; i++) {
			k = index(substr(a, pos), p[i])
			if (!k) return 0
			pos += k - 1 + length(p[i])
		}
		return length(a) - pos + 1 >= length(p[n]) && substr(a, length(a) - length(p[n]) + 1) == p[n]
	}
	FNR == NR { e[++ne] = norm($0); next }
	{ a[++na] = norm($0) }
	function m(i, j,   k) {
		if (i > ne) return j > na
		if (e[i] == "...") {
			for (k = j; k <= na + 1; k++) if (m(i + 1, k)) return 1
			return 0
		}
		return j <= na && same(e[i], a[j]) && m(i + 1, j + 1)
	}
	END { exit !m(1, 1) }' "$1" "$2"
}

# ---- The page ----

declare -a C_FILE=() C_LINE=() C_HOST=() C_TEXT=() C_OUT=()

page_read() {
	local kind a b c i=-1

	while IFS=$'\t' read -r kind a b c; do
		case "$kind" in
		'!')
			echo "$b: $c"
			return 1
			;;
		c)
			i=$((i + 1))
			C_FILE[$i]=${a##*/} C_LINE[$i]=$b C_HOST[$i]=$c C_TEXT[$i]='' C_OUT[$i]=''
			;;
		t) C_TEXT[$i]+="${C_TEXT[$i]:+$'\n'}$a" ;;
		o) C_OUT[$i]+="$a"$'\n' ;;
		esac
	done < <("$EXTRACT" --run "$DOC")
	[ $i -ge 0 ]
}

page_commands_known() {
	local i n=${#C_TEXT[@]}

	[ "$n" -ge 20 ] || vsn_fail "only $n commands found in $DOC" || return 1
	for ((i = 0; i < n; i++)); do
		[ -z "${C_HOST[$i]}" ] || [[ " $MACHINES " == *" ${C_HOST[$i]} "* ]] ||
			vsn_fail "line ${C_LINE[$i]}: no machine '${C_HOST[$i]}' (the page's are: $MACHINES)" ||
			return 1
	done
}

# step I: command I of the page, on its machine(s).
step() {
	local i=$1 m machines text=${C_TEXT[$1]} out=$S/out rc t0

	machines=${C_HOST[$i]:-$VSN_MACHINES}
	printf '%s' "${C_OUT[$i]}" >"$S/expected"
	for m in $machines; do
		echo "$m\$ $text" >>"$S/transcript"
		standin "$m" "$text"
		rc=$?
		if [ $rc -eq 0 ]; then
			echo "  (stand-in: $STANDIN)" >>"$S/transcript"
			continue
		fi
		[ $rc -eq 2 ] && vsn_fail "$m: the stand-in for '$text' failed" && return 1
		t0=$SECONDS
		while :; do
			run_in "$m" "$text" "$out"
			rc=$?
			if [ $rc -eq 0 ] && { [ -z "${C_OUT[$i]}" ] || output_matches "$S/expected" "$out"; }; then
				break
			fi
			if ! [[ $text =~ $READONLY ]] || [ $((SECONDS - t0)) -ge $RETRY_S ]; then
				cat "$out" >>"$S/transcript"
				echo "$m: exit status $rc"
				[ -n "${C_OUT[$i]}" ] && echo "the page shows:" && sed 's/^/    /' "$S/expected" &&
					echo "the command printed:"
				sed 's/^/    /' "$out"
				return 1
			fi
			sleep 0.25
		done
		cat "$out" >>"$S/transcript"
		# A daemon started in the background: give it the second a person would.
		[[ $text =~ \&[[:space:]]*$ ]] && sleep 1
	done
	return 0
}

# After the page: the answers really came through node1's forwarder (its counters), and the
# controller's view agrees.
forwarder_counted() {
	local out

	out=$(in_box node1 vsn-dpctl counters --json 2>&1) || vsn_fail "vsn-dpctl: $out" || return 1
	grep -E '"kind":"service".*"packets":[1-9]' <<<"$out" >/dev/null ||
		vsn_fail "node1's forwarder counted no service packet: $out"
}

logs_dump() {
	local m f

	for m in ctl node1; do
		for f in /var/log/vsnd.log /var/log/vsn-node.log; do
			in_box "$m" test -f "$f" || continue
			echo "--- $m:$f"
			in_box "$m" tail -n 30 "$f"
		done
	done
}

gs_cleanup() {
	local f

	if [ -n "${VSN_LOG_DIR:-}" ] && [ -n "$S" ]; then
		mkdir -p "$VSN_LOG_DIR"
		cp "$S/transcript" "$VSN_LOG_DIR/" 2>/dev/null
		for f in ctl:/var/log/vsnd.log node1:/var/log/vsn-node.log; do
			in_box "${f%%:*}" cat "${f#*:}" >"$VSN_LOG_DIR/${f##*/}" 2>/dev/null
		done
	fi
	if [ -n "$S" ] && [ -f "$S/mounts" ]; then
		while read -r f; do umount "$f" 2>/dev/null; done <"$S/mounts"
	fi
	[ -n "$S_BOUND" ] && umount -l "$S" 2>/dev/null
	vsn_cleanup
}

main() {
	local i n m

	vsn_require unshare hostname
	grep -qw overlay /proc/filesystems || vsn_skip "no overlay file system"
	vsn_built "$VSN_ROOT/build/vsnd"
	vsn_bpffs_ensure || vsn_skip "cannot mount bpffs"
	vsn_state_init || exit 1
	S=$VSN_STATE_DIR
	: >"$S/transcript"
	trap gs_cleanup EXIT
	# A namespace file can only be bound on a private mount (on systemd hosts / is shared).
	mount --bind "$S" "$S" && mount --make-private "$S" && S_BOUND=1 || {
		echo "Bail out! cannot make $S a private mount"
		exit 1
	}
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	vsn_tap_init

	vsn_tap page_read || {
		vsn_tap_done
		exit 1
	}
	vsn_tap page_commands_known
	for m in $MACHINES; do
		sandbox_make "$m" || {
			echo "Bail out! sandbox $m"
			exit 1
		}
	done
	lan_build || {
		echo "Bail out! the LAN"
		exit 1
	}

	n=${#C_TEXT[@]}
	for ((i = 0; i < n; i++)); do
		VSN_TAP_N=$((VSN_TAP_N + 1))
		if step "$i" >"$S/step.log" 2>&1; then
			VSN_TAP_PASS=$((VSN_TAP_PASS + 1))
			echo "ok $VSN_TAP_N - ${C_FILE[$i]}:${C_LINE[$i]} ${C_HOST[$i]}\$ ${C_TEXT[$i]%%$'\n'*}"
		else
			VSN_TAP_FAIL=$((VSN_TAP_FAIL + 1))
			echo "not ok $VSN_TAP_N - ${C_FILE[$i]}:${C_LINE[$i]} ${C_HOST[$i]}\$ ${C_TEXT[$i]%%$'\n'*}"
			sed 's/^/#   /' "$S/step.log"
			logs_dump | sed 's/^/#   /'
			echo "# the page's later commands were not run"
			break
		fi
	done
	[ "$VSN_TAP_FAIL" -eq 0 ] && vsn_tap forwarder_counted
	vsn_tap_done
}

main "$@"

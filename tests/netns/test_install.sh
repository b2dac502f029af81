#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make install` and `make uninstall` into a DESTDIR, the systemd units and the example
# configuration they install (dist/; docs/operations.md, "Installing" and "Running under systemd").
# Root only (exit 77 otherwise): it runs the installed daemons in network namespaces. Prints TAP
# lines and closes with "N passed, M failed".
#
# PID 1 need not be systemd. The units are checked with `systemd-analyze verify`, run in a mount
# namespace of its own where DESTDIR/usr/local is bind-mounted on /usr/local, so that their
# ExecStart= paths resolve as after a real install. The daemons are then started from their units'
# command lines as systemd would build them (Environment=, EnvironmentFile=, %i, StateDirectory=,
# UMask=, LimitMEMLOCK=, LimitNOFILE=; CapabilityBoundingSet= and NoNewPrivileges= through setpriv),
# with the installed binaries and the installed examples, the paths of /etc/vsn, /var/lib and
# /usr/local mapped into this run. Not emulated: the sandboxing that needs a service manager
# (ProtectSystem=, PrivateDevices=, RestrictAddressFamilies=, SystemCallFilter=, ...).
#
#  +----------------------------------------------+      +--------------------------------------+
#  | ns <prefix>node                              |      | ns <prefix>slb                       |
#  |  vsnd.service's vsnd: [::]:7700, API         |      |  vsn-slb@eth0.service's              |
#  |    127.0.0.1:7443, store in the state dir    |      |    vsn-slb setup --dev eth0 with the |
#  |  vsn-node.service's vsn-node: the example    |      |    example slb-eth0.env (nodes       |
#  |    node.yaml (pin_dir moved to this run's)   |      |    10.0.0.1, fd00::1; VIPs on lo)    |
#  | lo   192.0.2.1 (the example's controller)    | veth |                                      |
#  | eth0 10.0.0.1/24 fd00::1/64 [XDP vsn]        |------| eth0 10.0.0.2/24 fd00::2/64          |
#  |                                              |      |      [XDP vsn_decap]                 |
#  +----------------------------------------------+      +--------------------------------------+
#
# Checks, in order:
#   install_lands_every_file      every binary (0755), unit (0644), example (0644) and config
#                                 (tokens 0600) where the docs say, nothing else; the units name
#                                 the installed binaries
#   units_verify                  systemd-analyze verify says nothing about any unit (an instance
#                                 of the template: vsn-slb@eth0), systemd knows every capability
#                                 named, every unit depended on exists
#   verify_catches_typos          broken copies (a key, a value, a capability, a section, a
#                                 binary, a dependency misspelt) are each refused by that check
#   node_example_checks           vsn-node --check accepts the installed node.yaml as it is
#   tokens_example_refused        vsnd from its unit refuses the shipped tokens file (no token:
#                                 a fresh install has no known token) and nothing else
#   vsnd_runs_from_unit           with a token added: vsnd starts from its unit's command line
#                                 without any capability, its store 0600 in its state dir
#   node_runs_from_unit           vsn-node from its unit with the unit's capabilities: loads and
#                                 attaches the forwarder, connects to vsnd by the example's address
#   node_gets_applied_set         vsn apply (the installed vsn) reaches the node, which resolves
#                                 its SLB's next hop (CAP_NET_ADMIN) and logs no warning
#   reload_rereads_certificates   ExecReload (SIGHUP) of vsnd and vsn-node: certificates re-read,
#                                 tokens too; both keep running
#   node_stop_keeps_forwarding    SIGTERM (systemctl stop): exit 0, so Restart=on-failure does not
#                                 restart it; the forwarder's link and program stay pinned
#   node_restart_adopts           the next start adopts the running set (with the unit's
#                                 capabilities: reads its ids, CAP_SYS_ADMIN), is in sync without
#                                 a push, and logs no warning
#   slb_setup_from_unit           vsn-slb@eth0's ExecStart with the example env file and the
#                                 unit's capabilities: ready; ExecReload: nothing changes
#   vsnd_stop_clean               SIGTERM: vsnd exits 0
#   reinstall_keeps_config        a second make install overwrites no config the run changed
#   uninstall_keeps_changed_config  make uninstall removes everything it installed but the changed
#                                 configs, and leaves the operator's own files (certificates)
#   install_uninstall_clean       install then uninstall into a fresh DESTDIR leaves no file
#
# The test installs what `make all` built (build/), without rebuilding it.
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B=${B:-build}
S='' D='' UNITS='' NS_N='' NS_S='' NODE_PIN='' SLB_PIN=''
VSND_LOG='' NODE_LOG='' VSND_PID='' NODE_PID='' TOKEN='' GEN=''
SBIN_FILES=(vsnd vsn-node vsn-slb vsn-dpctl)
BIN_FILES=(vsn)
UNIT_FILES=(vsnd.service vsn-node.service vsn-slb@.service)
CONF_FILES=(node.yaml tokens vsnd.env slb-eth0.env)
CTL_NAME=ctl.example.net
NODE_NAME=node1 # the example's
CTL_ADDR=192.0.2.1

OUT=''
expect_grep() { grep -qF -- "$1" <<<"$OUT" || vsn_fail "expected '$1' in: $OUT"; }

# make_install DESTDIR TARGET: make TARGET into DESTDIR, the binaries as built (-o: not remade).
make_install() {
	make -C "$VSN_ROOT" --no-print-directory "${SBIN_FILES[@]/#/-o$B/}" \
		"${BIN_FILES[@]/#/-o$B/}" B="$B" "$2" DESTDIR="$1"
}

# ---- the units: verify ----

# deps_exist UNIT_FILE INSTANCE: every unit it depends on, or is wanted by, exists somewhere.
deps_exist() {
	local f=$1 inst=$2 u bad=0

	for u in $(sed -nE 's/^(Wants|Requires|BindsTo|After|Before|WantedBy|RequiredBy)=//p' "$f"); do
		u=${u//%i/$inst}
		case "$u" in
		*.device | *.mount) continue ;; # made by systemd from the kernel's devices and mounts
		esac
		[ -e "$(dirname "$f")/$u" ] || [ -e "/lib/systemd/system/$u" ] ||
			[ -e "/usr/lib/systemd/system/$u" ] || [ -e "/etc/systemd/system/$u" ] ||
			{ echo "$(basename "$f"): no unit $u"; bad=1; }
	done
	return $bad
}

# units_check DIR: systemd-analyze verify of the units in DIR (the template as vsn-slb@eth0) in
# a mount namespace where $D/usr/local is /usr/local. verify exits 0 on much it only warns about
# (unknown keys and sections, values it cannot parse), so any message fails; it drops capability
# names it does not know without a word, so each named one must show in its dump of the unit.
units_check() {
	local dir=$1 f n args=() out dump bad=0 want have

	for f in "$dir"/*.service; do
		n=$(basename "$f")
		args+=("$dir/${n/@./@eth0.}")
		deps_exist "$f" eth0 || bad=1
	done
	if ! out=$(unshare -m --propagation private sh -c \
		'mount --bind "$1/usr/local" /usr/local && shift && exec systemd-analyze verify --man=no "$@"' \
		sh "$D" "${args[@]}" 2>&1) || [ -n "$out" ]; then
		echo "systemd-analyze verify: $out"
		bad=1
	fi
	dump=$(unshare -m --propagation private sh -c \
		'mount --bind "$1/usr/local" /usr/local && shift &&
		 SYSTEMD_LOG_LEVEL=debug exec systemd-analyze verify --man=no "$@"' \
		sh "$D" "${args[@]}" 2>&1)
	for f in "$dir"/*.service; do
		n=$(basename "$f")
		n=${n/@./@eth0.}
		have=$(awk -v u="-> Unit $n:" '$0 ~ /-> Unit / { on = (index($0, u) > 0) }
			on && $1 == "CapabilityBoundingSet:" { $1 = ""; print; exit }' <<<"$dump")
		for want in $(sed -n 's/^CapabilityBoundingSet=//p' "$f"); do
			want=${want,,}
			[[ " $have " == *" $want "* ]] ||
				{ echo "$n: systemd does not know the capability $want (it has: $have)"; bad=1; }
		done
	done
	return $bad
}

# ---- the units' command lines, as systemd builds them ----

# map PATH-OR-WORD: the installed paths of a real install, as they are in this run.
map() {
	local w=$1

	w=${w//\/usr\/local\//$D/usr/local/}
	w=${w//\/etc\/vsn\//$D/etc/vsn/}
	w=${w//\/var\/lib\//$S/var/lib/}
	echo "$w"
}

unit_get() { sed -n "s/^$2=//p" "$1"; } # UNIT_FILE KEY: its values, one a line

# unit_env UNIT_FILE INSTANCE: UNIT_ENV, the NAME=VALUE of Environment= and then of each
# EnvironmentFile= (read as systemd does for these simple files: assignments, quotes, comments).
UNIT_ENV=()
unit_env() {
	local f=$1 inst=$2 line kv ef names n

	UNIT_ENV=()
	while read -r line; do
		for kv in $line; do UNIT_ENV+=("$kv"); done
	done < <(unit_get "$f" Environment)
	while read -r ef; do
		ef=${ef//%i/$inst}
		if [ "${ef:0:1}" = - ]; then
			ef=$(map "${ef:1}")
			[ -e "$ef" ] || continue
		else
			ef=$(map "$ef")
			[ -e "$ef" ] || { echo "EnvironmentFile $ef is missing"; return 1; }
		fi
		names=$(sed -nE 's/^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=.*/\1/p' "$ef")
		for n in $names; do
			UNIT_ENV+=("$n=$(env -i bash -c 'set -eu; . "$1"; printf %s "${!2}"' sh "$ef" "$n")") ||
				return 1
		done
	done < <(unit_get "$f" EnvironmentFile)
}

# env_value NAME: its value in UNIT_ENV (the last assignment wins).
env_value() {
	local kv v=''

	for kv in "${UNIT_ENV[@]}"; do
		[ "${kv%%=*}" = "$1" ] && v=${kv#*=}
	done
	printf %s "$v"
}

# unit_argv UNIT_FILE KEY INSTANCE: UNIT_ARGV, the words of its first KEY= command line: %i
# replaced, ${NAME} one word, $NAME split at blanks, then the paths mapped.
UNIT_ARGV=()
unit_argv() {
	local f=$1 key=$2 inst=$3 line w n v

	UNIT_ARGV=()
	unit_env "$f" "$inst" || return 1
	line=$(unit_get "$f" "$key" | head -n 1)
	[ -n "$line" ] || { echo "$(basename "$f"): no $key="; return 1; }
	case "$line" in *\"* | *\'* | *\\*) echo "quotes in $key=: not emulated here"; return 1 ;; esac
	for w in $line; do
		w=${w//%i/$inst}
		if [[ "$w" =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
			v=$(env_value "${BASH_REMATCH[1]}")
			for n in $v; do UNIT_ARGV+=("$(map "$n")"); done
			continue
		fi
		while [[ "$w" =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
			n=${BASH_REMATCH[1]}
			w=${w//"\${$n}"/$(env_value "$n")}
		done
		UNIT_ARGV+=("$(map "$w")")
	done
	UNIT_ARGV[0]=${UNIT_ARGV[0]#-}
}

# unit_sandbox UNIT_FILE [ENV...]: UNIT_PRE, the command that puts the process in the unit's frame
# (a clean environment of UNIT_ENV and ENV, the capability bounding set, no new privileges); makes
# the state directories; UNIT_UMASK, UNIT_ULIMITS.
UNIT_PRE=() UNIT_UMASK=0022 UNIT_ULIMITS=''
unit_sandbox() {
	local f=$1 caps c d mode

	shift
	caps=-all
	for c in $(unit_get "$f" CapabilityBoundingSet); do
		c=${c,,}
		caps+=",+${c#cap_}"
	done
	UNIT_PRE=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		"${UNIT_ENV[@]}" "$@" setpriv --bounding-set "$caps" --inh-caps=-all)
	[ "$(unit_get "$f" NoNewPrivileges)" = yes ] && UNIT_PRE+=(--no-new-privs)
	mode=$(unit_get "$f" StateDirectoryMode)
	for d in $(unit_get "$f" StateDirectory); do
		install -d -m "${mode:-0755}" "$S/var/lib/$d"
	done
	UNIT_UMASK=$(unit_get "$f" UMask)
	UNIT_UMASK=${UNIT_UMASK:-0022}
	UNIT_ULIMITS=''
	# Raising the hard limit needs CAP_SYS_RESOURCE, which a test host may lack; on kernels that
	# charge BPF memory to the cgroup (5.11 and later) the limit does not matter.
	[ "$(unit_get "$f" LimitMEMLOCK)" = infinity ] &&
		UNIT_ULIMITS+='ulimit -l unlimited 2>/dev/null || ulimit -l "$(ulimit -H -l)";'
	c=$(unit_get "$f" LimitNOFILE)
	[ -n "$c" ] && UNIT_ULIMITS+="ulimit -n $c 2>/dev/null || ulimit -n \"\$(ulimit -H -n)\";"
	return 0
}

# unit_start NS LOG UNIT [INSTANCE]: the unit's ExecStart in namespace NS, in the background,
# output appended to LOG (the journal); BG_PID is the daemon itself.
unit_start() {
	local ns=$1 log=$2 f=$UNITS/$3

	unit_argv "$f" ExecStart "${4:-}" && unit_sandbox "$f" || return 1
	(
		umask "$UNIT_UMASK"
		eval "$UNIT_ULIMITS"
		exec nsenter --net="/run/netns/$ns" "${UNIT_PRE[@]}" "${UNIT_ARGV[@]}"
	) </dev/null >>"$log" 2>&1 3>&- &
	BG_PID=$!
	vsn_register pid "$BG_PID" "$ns"
}

# unit_run NS UNIT INSTANCE KEY [ENV...]: the unit's KEY command in the foreground (a oneshot),
# ENV added to its environment (this run's pin directory); its output in OUT.
unit_run() {
	local ns=$1 f=$UNITS/$2 inst=$3 key=$4

	shift 4
	unit_argv "$f" "$key" "$inst" && unit_sandbox "$f" "$@" || return 1
	OUT=$(
		umask "$UNIT_UMASK"
		eval "$UNIT_ULIMITS"
		nsenter --net="/run/netns/$ns" "${UNIT_PRE[@]}" "${UNIT_ARGV[@]}" 2>&1
	)
}

# The unit's ExecReload for the daemons: SIGHUP to the main process.
reload_is_sighup() {
	[ "$(unit_get "$UNITS/$1" ExecReload)" = '/bin/kill -HUP $MAINPID' ] ||
		vsn_fail "$1: ExecReload is not SIGHUP: $(unit_get "$UNITS/$1" ExecReload)"
}

# ---- checks ----

install_lands_every_file() {
	local f want have bad=0

	OUT=$(make_install "$D" install 2>&1) || vsn_fail "make install: $OUT" || return 1
	want=$(
		for f in "${SBIN_FILES[@]}"; do echo "-rwxr-xr-x usr/local/sbin/$f"; done
		for f in "${BIN_FILES[@]}"; do echo "-rwxr-xr-x usr/local/bin/$f"; done
		for f in "${UNIT_FILES[@]}"; do echo "-rw-r--r-- usr/local/lib/systemd/system/$f"; done
		for f in "${CONF_FILES[@]}"; do
			echo "-rw-r--r-- usr/local/share/doc/vsn/examples/$f"
			[ "$f" = tokens ] && echo "-rw------- etc/vsn/$f" || echo "-rw-r--r-- etc/vsn/$f"
		done | sort -k2
	)
	have=$(cd "$D" && find . ! -type d -printf '%M %P\n' | sort -k2)
	[ "$(sort <<<"$want")" = "$(sort <<<"$have")" ] ||
		vsn_fail "installed files differ from the expected ones:
$(diff <(sort <<<"$want") <(sort <<<"$have"))" || return 1
	[ "$(stat -c %a "$D/etc/vsn")" = 755 ] || vsn_fail "etc/vsn is $(stat -c %a "$D/etc/vsn")" ||
		return 1
	for f in "${SBIN_FILES[@]}" "${BIN_FILES[@]}"; do
		cmp -s "$VSN_ROOT/$B/$f" "$D/usr/local/"*"/$f" || { echo "$f is not $B/$f"; bad=1; }
	done
	for f in "${CONF_FILES[@]}"; do
		cmp -s "$D/etc/vsn/$f" "$D/usr/local/share/doc/vsn/examples/$f" &&
			cmp -s "$D/etc/vsn/$f" "$VSN_ROOT/dist/etc/vsn/$f" ||
			{ echo "etc/vsn/$f is not the example"; bad=1; }
	done
	# Every ExecStart names an installed binary.
	for f in "${UNIT_FILES[@]}"; do
		grep -q '^ExecStart=/usr/local/sbin/vsn' "$UNITS/$f" || { echo "$f: $(unit_get "$UNITS/$f" ExecStart)"; bad=1; }
	done
	return $bad
}

units_verify() {
	units_check "$UNITS"
}

# Each mutation of one installed unit, in a scratch copy, must fail units_check.
verify_catches_typos() {
	local scratch=$S/broken m unit sub bad=0
	local -a muts=(
		'vsnd.service|s/^ExecReload=/ExecRelaod=/'
		'vsnd.service|s|^ExecStart=/usr/local/sbin/vsnd |ExecStart=/usr/local/sbin/vsdn |'
		'vsn-node.service|s/^LimitMEMLOCK=infinity/LimitMEMLOCK=infinty/'
		'vsn-node.service|s/^\(CapabilityBoundingSet=.*\)CAP_NET_ADMIN/\1CAP_NET_ADMN/'
		'vsn-node.service|s/^After=network-online.target/After=network-onlin.target/'
		'vsn-slb@.service|s/^\[Install\]/[Instal]/'
		'vsn-slb@.service|s/^Type=oneshot/Type=oneshto/'
	)

	for m in "${muts[@]}"; do
		unit=${m%%|*} sub=${m#*|}
		rm -rf "$scratch" && mkdir -p "$scratch" || return 1
		sed "$sub" "$UNITS/$unit" >"$scratch/$unit"
		cmp -s "$UNITS/$unit" "$scratch/$unit" && { echo "$unit: '$sub' changed nothing"; bad=1; continue; }
		if OUT=$(units_check "$scratch"); then
			echo "not caught: $unit with $sub"
			bad=1
		fi
	done
	rm -rf "$scratch"
	return $bad
}

node_example_checks() {
	OUT=$("$D/usr/local/sbin/vsn-node" --config "$D/etc/vsn/node.yaml" --check 2>&1) ||
		vsn_fail "vsn-node --check: $OUT" || return 1
	expect_grep "$D/etc/vsn/node.yaml: ok"
}

tokens_example_refused() {
	local m

	m=$(mark "$VSND_LOG")
	unit_start "$NS_N" "$VSND_LOG" vsnd.service || return 1
	VSND_PID=$BG_PID
	stop_pid "$VSND_PID" 0 # reap it, once it has exited by itself (SIGKILL after 3 s)
	VSND_PID=''
	[ "$STOP_RC" = 1 ] || vsn_fail "vsnd exited $STOP_RC, expected 1" || return 1
	OUT=$(since "$VSND_LOG" "$m")
	expect_grep "$D/etc/vsn/tokens: no token in the file"
}

vsnd_runs_from_unit() {
	local m

	TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf 'admin %s # test_install.sh\n' "$TOKEN" >>"$D/etc/vsn/tokens"
	m=$(mark "$VSND_LOG")
	unit_start "$NS_N" "$VSND_LOG" vsnd.service || return 1
	VSND_PID=$BG_PID
	wait_log "$VSND_LOG" "$m" ' vsnd start: mode=controller ' 5000 || return 1
	# The state directory holds the store and nothing else, 0600 by the unit's UMask.
	OUT=$(cd "$S/var/lib/vsn" && stat -c '%a %n' -- *)
	expect_grep "600 vsnd.db" || return 1
	! grep -qv '^600 vsnd.db' <<<"$OUT" || vsn_fail "state dir: $OUT" || return 1
	[ "$(stat -c %a "$S/var/lib/vsn")" = 700 ] || vsn_fail "state dir mode"
}

node_runs_from_unit() {
	local m

	m=$(mark "$VSN_STATE_DIR/vsnd.log")
	unit_start "$NS_N" "$NODE_LOG" vsn-node.service || return 1
	NODE_PID=$BG_PID
	wait_log "$NODE_LOG" 0 ' vsn-node attach: interface=eth0 ' 5000 &&
		wait_log "$NODE_LOG" 0 " vsn-node connected: " 5000 &&
		wait_log "$VSND_LOG" "$m" " vsnd connected: node=$NODE_NAME " 5000 || return 1
	[ -e "$NODE_PIN/links/eth0" ] && [ -e "$NODE_PIN/prog" ] ||
		vsn_fail "pins missing: $(ls -R "$NODE_PIN")"
}

node_gets_applied_set() {
	cat >"$S/state.yaml" <<EOF
nodes:
  - name: $NODE_NAME
slbs:
  - name: slb-a
    address: 10.0.0.2
    forward: ipip
virtual_services:
  - name: web
    vip: 192.0.2.80
    ports: [tcp/80]
    configurations:
      - name: normal
        policies:
          - destination: slb-a
EOF
	OUT=$(vsn_ns "$NS_N" "$D/usr/local/bin/vsn" apply -f "$S/state.yaml" -m test \
		--server https://127.0.0.1:7443 --ca "$D/etc/vsn/ca.crt" --token "$TOKEN" 2>&1) ||
		vsn_fail "vsn apply: $OUT" || return 1
	expect_grep "changed nodes: $NODE_NAME" || return 1
	wait_log "$NODE_LOG" 0 ' vsn-node apply: generation=[0-9]+ how=at-once policies=1 ' 5000 ||
		return 1
	GEN=$(grep -oE ' vsn-node apply: generation=[0-9]+' "$NODE_LOG" | tail -n 1 | cut -d= -f2)
	[ -n "$GEN" ] && [ -s "$S/var/lib/vsn-node/policyset.pb" ] ||
		vsn_fail "no persisted set in the node's state dir" || return 1
	# The SLB's next hop is resolved through a managed neighbour entry (RTM_NEWNEIGH), which
	# needs CAP_NET_ADMIN: the unit's capabilities must allow it.
	for _ in $(seq 1 30); do
		OUT=$(vsn_ns "$NS_N" "$D/usr/local/sbin/vsn-dpctl" --pin-dir "$NODE_PIN" show 2>&1)
		grep -q '^  slb 1 10.0.0.2 ipip up via ifindex ' <<<"$OUT" && break
		sleep 0.1
	done
	expect_grep "slb 1 10.0.0.2 ipip up via ifindex " || return 1
	! grep -E ' (warn|error) ' "$NODE_LOG" | grep -v ' connect_failed: ' ||
		vsn_fail "the agent warned"
}

reload_rereads_certificates() {
	local mv mn

	reload_is_sighup vsnd.service && reload_is_sighup vsn-node.service || return 1
	mv=$(mark "$VSND_LOG") mn=$(mark "$NODE_LOG")
	kill -HUP "$VSND_PID" "$NODE_PID"
	wait_log "$VSND_LOG" "$mv" ' vsnd reload: certificates=reloaded ' 3000 &&
		wait_log "$VSND_LOG" "$mv" ' vsnd reload: tokens=reloaded ' 3000 &&
		wait_log "$NODE_LOG" "$mn" ' vsn-node reload: certificates reloaded ' 3000 || return 1
	sleep 0.2
	alive "$VSND_PID" && alive "$NODE_PID" || vsn_fail "a daemon died on SIGHUP"
}

node_stop_keeps_forwarding() {
	# KillMode=control-group, KillSignal=SIGTERM: systemctl stop sends SIGTERM to the agent.
	[ "$(unit_get "$UNITS/vsn-node.service" KillSignal)" = SIGTERM ] &&
		[ "$(unit_get "$UNITS/vsn-node.service" Restart)" = on-failure ] &&
		[ -z "$(unit_get "$UNITS/vsn-node.service" ExecStop)" ] ||
		vsn_fail "vsn-node.service: KillSignal, Restart or ExecStop changed" || return 1
	stop_pid "$NODE_PID" TERM
	NODE_PID=''
	[ "$STOP_RC" = 0 ] || vsn_fail "vsn-node exited $STOP_RC on SIGTERM (Restart=on-failure would restart it)" ||
		return 1
	[ -e "$NODE_PIN/links/eth0" ] && [ -e "$NODE_PIN/prog" ] || vsn_fail "pins gone after stop" ||
		return 1
	OUT=$(vsn_ns "$NS_N" "$D/usr/local/sbin/vsn-dpctl" --pin-dir "$NODE_PIN" show 2>&1) ||
		vsn_fail "vsn-dpctl show: $OUT" || return 1
	expect_grep "eth0" && expect_grep "generation $GEN"
}

node_restart_adopts() {
	local m mv

	m=$(mark "$NODE_LOG") mv=$(mark "$VSND_LOG")
	unit_start "$NS_N" "$NODE_LOG" vsn-node.service || return 1
	NODE_PID=$BG_PID
	wait_log "$NODE_LOG" "$m" " vsn-node adopt: .* running_generation=$GEN " 5000 &&
		wait_log "$VSND_LOG" "$mv" " vsnd in-sync: node=$NODE_NAME generation=$GEN" 5000 || return 1
	sleep 0.3 # the first next-hop refresh of the new agent
	OUT=$(since "$NODE_LOG" "$m")
	! grep -qE ' (warn|error) ' <<<"$OUT" || vsn_fail "warnings: $OUT" || return 1
	[ "$(count_log "$NODE_LOG" "$m" ' vsn-node apply: ')" = 0 ] ||
		vsn_fail "the restarted agent applied a set: $OUT"
}

slb_setup_from_unit() {
	unit_run "$NS_S" vsn-slb@.service eth0 ExecStart VSN_DECAP_PIN_DIR="$SLB_PIN" ||
		vsn_fail "vsn-slb@eth0 ExecStart: $OUT" || return 1
	expect_grep "loaded the decap program under $SLB_PIN" &&
		expect_grep "allowed node 10.0.0.1" && expect_grep "allowed node fd00::1" &&
		expect_grep "added VIP 192.0.2.80/32 to lo" &&
		expect_grep "ready: IP-in-IP and GUE (UDP port 6080) from 2 nodes to 2 VIPs is decapsulated on eth0" ||
		return 1
	unit_run "$NS_S" vsn-slb@.service eth0 ExecReload VSN_DECAP_PIN_DIR="$SLB_PIN" ||
		vsn_fail "vsn-slb@eth0 ExecReload: $OUT" || return 1
	expect_grep "the decap program is loaded under $SLB_PIN already" &&
		expect_grep "already attached to eth0" &&
		expect_grep "VIP 2001:db8:100::80 already on lo (/128)"
}

vsnd_stop_clean() {
	stop_pid "$VSND_PID" TERM
	VSND_PID=''
	[ "$STOP_RC" = 0 ] || vsn_fail "vsnd exited $STOP_RC on SIGTERM"
}

# The run changed node.yaml (pin_dir) and tokens (a token), and added the certificates.
reinstall_keeps_config() {
	local before

	before=$(cd "$D/etc/vsn" && sha256sum -- *)
	OUT=$(make_install "$D" install 2>&1) || vsn_fail "make install: $OUT" || return 1
	expect_grep "kept $D/etc/vsn/node.yaml (it exists" &&
		expect_grep "kept $D/etc/vsn/tokens (it exists" || return 1
	[ "$(cd "$D/etc/vsn" && sha256sum -- *)" = "$before" ] || vsn_fail "etc/vsn changed"
}

uninstall_keeps_changed_config() {
	local left want

	OUT=$(make_install "$D" uninstall 2>&1) || vsn_fail "make uninstall: $OUT" || return 1
	expect_grep "kept $D/etc/vsn/node.yaml (changed" || return 1
	left=$(cd "$D" && find . ! -type d -printf '%P\n' | sort)
	want=$(printf 'etc/vsn/%s\n' ca.crt node.yaml node1.crt node1.key tokens vsnd.crt vsnd.key | sort)
	[ "$left" = "$want" ] || vsn_fail "left after uninstall:
$left
expected:
$want"
}

install_uninstall_clean() {
	local d=$S/destdir-clean

	mkdir -p "$d" || return 1
	OUT=$(make_install "$d" install 2>&1) || vsn_fail "make install: $OUT" || return 1
	OUT=$(make_install "$d" uninstall 2>&1) || vsn_fail "make uninstall: $OUT" || return 1
	OUT=$(cd "$d" && find . ! -type d)
	[ -z "$OUT" ] || vsn_fail "left after uninstall: $OUT" || return 1
	[ ! -e "$d/etc/vsn" ] && [ ! -e "$d/usr/local/share/doc/vsn" ] ||
		vsn_fail "directories of vsn left: $(cd "$d" && find . -path '*vsn*')"
}

# ---- setup ----

# The namespaces of the picture, and the certificates in $D/etc/vsn where the examples name them.
setup() {
	local p=vsni$$-

	NS_N=${p}node NS_S=${p}slb
	for ns in "$NS_N" "$NS_S"; do
		vsn_register netns "$ns"
		ip netns add "$ns" || return 1
		vsn_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 || return 1
		vsn_ns "$ns" ip link set dev lo up || return 1
	done
	ip link add name eth0 netns "$NS_N" type veth peer name eth0 netns "$NS_S" || return 1
	vsn_ns "$NS_N" ip addr add "$CTL_ADDR/32" dev lo &&
		vsn_ns "$NS_N" ip addr add 10.0.0.1/24 dev eth0 &&
		vsn_ns "$NS_N" ip addr add fd00::1/64 dev eth0 nodad &&
		vsn_ns "$NS_S" ip addr add 10.0.0.2/24 dev eth0 &&
		vsn_ns "$NS_S" ip addr add fd00::2/64 dev eth0 nodad &&
		vsn_ns "$NS_N" ip link set dev eth0 up &&
		vsn_ns "$NS_S" ip link set dev eth0 up || return 1
	NODE_PIN=/sys/fs/bpf/vsn-test-install-$$
	SLB_PIN=/sys/fs/bpf/vsn-test-install-decap-$$
	vsn_register pindir "$NODE_PIN"
	vsn_register pindir "$SLB_PIN"
}

# With the installed vsn, as docs/certificates.md shows; copied where node.yaml and vsnd.env
# name them.
certs() {
	local vsn=$D/usr/local/bin/vsn pki=$S/pki e=$D/etc/vsn

	mkdir -p "$pki" && cd "$pki" || return 1
	"$vsn" ca create --dir ca --name test-ca >/dev/null &&
		"$vsn" cert issue --ca ca --out ctl --controller "$CTL_NAME" --ip "$CTL_ADDR" \
			--ip 127.0.0.1 >/dev/null &&
		"$vsn" cert issue --ca ca --out node --node "$NODE_NAME" >/dev/null || return 1
	cd - >/dev/null || return 1
	install -m 0644 "$pki/ca/ca.crt" "$e/ca.crt" &&
		install -m 0644 "$pki/ctl/$CTL_NAME.crt" "$e/vsnd.crt" &&
		install -m 0600 "$pki/ctl/$CTL_NAME.key" "$e/vsnd.key" &&
		install -m 0644 "$pki/node/$NODE_NAME.crt" "$e/$NODE_NAME.crt" &&
		install -m 0600 "$pki/node/$NODE_NAME.key" "$e/$NODE_NAME.key"
}

# The operator's edit of node.yaml for this run: the paths of this run, and a pin directory of
# its own (never the host's /sys/fs/bpf/vsn).
node_config_for_run() {
	local f=$D/etc/vsn/node.yaml

	sed -i -e "s|^pin_dir: .*|pin_dir: $NODE_PIN|" -e "s|/etc/vsn/|$D/etc/vsn/|g" \
		-e "s|/var/lib/|$S/var/lib/|g" "$f" &&
		grep -q "^pin_dir: $NODE_PIN\$" "$f" && grep -q "^controller: $CTL_ADDR:7700\$" "$f"
}

main() {
	local t m

	[ "$(id -u)" -eq 0 ] || vsn_skip "netns tests need root"
	for t in systemd-analyze setpriv unshare ip nsenter sysctl make sha256sum od; do
		command -v "$t" >/dev/null 2>&1 || vsn_skip "missing tool: $t"
	done
	for t in "${SBIN_FILES[@]}" "${BIN_FILES[@]}"; do
		[ -x "$VSN_ROOT/$B/$t" ] || {
			echo "error: $B/$t is not built (make all)" >&2
			exit 1
		}
	done
	vsn_bpffs_ensure || exit 1
	vsn_state_init || exit 1
	vsn_trap_cleanup
	vsn_tap_init
	S=$VSN_STATE_DIR D=$S/destdir UNITS=$S/destdir/usr/local/lib/systemd/system
	VSND_LOG=$S/vsnd.log NODE_LOG=$S/node.log
	mkdir -p "$D" || exit 1
	: >"$VSND_LOG"
	: >"$NODE_LOG"

	vsn_tap install_lands_every_file
	[ -f "$UNITS/vsnd.service" ] || {
		echo "Bail out! nothing installed"
		exit 1
	}
	vsn_tap units_verify
	vsn_tap verify_catches_typos
	vsn_tap node_example_checks
	setup || {
		echo "Bail out! cannot build the namespaces"
		exit 1
	}
	certs || {
		echo "Bail out! cannot make the certificates"
		exit 1
	}
	vsn_tap tokens_example_refused
	vsn_tap vsnd_runs_from_unit
	node_config_for_run || {
		echo "Bail out! cannot adapt node.yaml"
		exit 1
	}
	vsn_tap node_runs_from_unit
	vsn_tap node_gets_applied_set
	vsn_tap reload_rereads_certificates
	vsn_tap node_stop_keeps_forwarding
	vsn_tap node_restart_adopts
	vsn_tap slb_setup_from_unit
	[ -n "$NODE_PID" ] && stop_pid "$NODE_PID" TERM
	NODE_PID=''
	vsn_tap vsnd_stop_clean
	vsn_tap reinstall_keeps_config
	vsn_tap uninstall_keeps_changed_config
	vsn_tap install_uninstall_clean
	vsn_tap_done
}

main "$@"

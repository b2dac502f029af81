#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Health-driven failover end to end, with real traffic: vsnd in controller mode probes two SLBs
# over HTTP; when slb-a's nginx dies, the condition 'not healthy(slb slb-a)' switches service web
# to its failover configuration (slb-b) on the node, and the client's requests to the VIP are
# answered by slb-b; nginx back on slb-a, web returns to normal (after the dwell). The node is a
# vsn-node agent attached to its client-facing veth (l2, direct server return, as
# test_pool_live.sh). Root only (exit 77 otherwise). Prints TAP lines and closes with
# "N passed, M failed".
#
#  +-----------------+      +-------------------------------+      +-----------------------------+
#  | ns client       |      | ns node                       |  sl1 | ns slb-a: eth0 10.100.2.2   |
#  | eth0 10.100.1.2 |------| cli0 [XDP vsn]       sl1 .2.1|------|   nginx "slb-a"             |
#  | 192.0.2.80 via  | veth | 10.100.1.1            sl2 .3.1|------| ns slb-b: eth0 10.100.3.2   |
#  |   the node      |      | vsnd (controller, 127.0.0.1:  |  sl2 |   nginx "slb-b"             |
#  +-----------------+      |   7700 nodes, 7443 API),      |      | lo 192.0.2.80, default via  |
#                           | vsn-node node1 (attached to   |      |   the node                  |
#                           |   cli0), health probes to the |      +-----------------------------+
#                           |   SLBs over sl1/sl2           |
#                           +-------------------------------+
#
# Checks:
#   normal_answers_slb_a   web runs normal: curl to the VIP answers slb-a
#   failover_on_kill       nginx's master (and workers) on slb-a killed: the first answer "slb-b"
#                          comes within 2 s (measured, curl every ~50 ms); vsnd logs slb-a down
#                          and web's switch normal -> failover; the node's forwarder has slb-a
#                          down
#   return_on_restart      nginx back on slb-a: web returns to normal (the dwell, 2 s, holds the
#                          return) and curl answers slb-a within 5 s
#   clean_stop             SIGTERM stops vsnd and the agent with status 0; no sanitizer report
#
#   VSND=build/san/vsnd VSN_NODE=build/san/vsn-node tests/netns/test_failover_live.sh
#                                               sanitizer builds (also VSN, VSN_DPCTL)
#   VSN_VERBOSE=1 ...                           narrates cleanup
#   VSN_LOG_DIR=DIR ...                         keeps the logs and documents
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
VSN_NODE=$(abs "${VSN_NODE:-$VSN_ROOT/build/vsn-node}")
VSND=$(abs "${VSND:-$VSN_ROOT/build/vsnd}")
VSN=$(abs "${VSN:-$VSN_ROOT/build/vsn}")

VIP=$VIP4
PORT=7700     # nodes to vsnd
API_PORT=7443 # the REST API
CTL_NAME=ctl.vsn.test
FAILOVER_MAX_MS=2000
RETURN_MAX_MS=5000

declare -A NS_SLB_OF=() ADDR_OF=() NODE_ADDR_OF=() IF_OF=()
SLBS='slb-a slb-b'
ADDR_OF[slb-a]=10.100.2.2 NODE_ADDR_OF[slb-a]=10.100.2.1 IF_OF[slb-a]=sl1
ADDR_OF[slb-b]=10.100.3.2 NODE_ADDR_OF[slb-b]=10.100.3.1 IF_OF[slb-b]=sl2

S='' VSND_LOG='' NODE_LOG='' DB=''
VSND_PID='' NODE_PID=''
ADMIN_TOKEN=''

# retry TRIES CMD...: run CMD until it succeeds, at most TRIES times, 0.1 s apart.
retry() {
	local n=$1 i
	shift

	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# ---- the topology (as test_pool_live.sh: each SLB on a veth of its own) ----

failover_topology_build() {
	local p=$1 ns s i dst

	NS_CLIENT=${p}client
	NS_NODE=${p}node
	NS_SLB_OF[slb-a]=${p}slb-a
	NS_SLB_OF[slb-b]=${p}slb-b
	PIN_DIR=$2
	for ns in "$NS_CLIENT" "$NS_NODE" "${NS_SLB_OF[slb-a]}" "${NS_SLB_OF[slb-b]}"; do
		vsn_register netns "$ns"
		ip netns add "$ns" || return 1
		vsn_ns "$ns" ip link set dev lo up || return 1
	done
	vsn_register pindir "$PIN_DIR"
	# The node has no route to the VIP: the reverse-path filter would drop the SLBs' replies.
	vsn_ns "$NS_NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 || return 1

	ip link add name eth0 netns "$NS_CLIENT" type veth peer name "$IF_NODE_CLIENT" \
		netns "$NS_NODE" || return 1
	vsn_ns "$NS_CLIENT" ip addr add "$CLIENT4/24" dev eth0 &&
		vsn_ns "$NS_NODE" ip addr add "$NODE_C4/24" dev "$IF_NODE_CLIENT" &&
		vsn_ns "$NS_CLIENT" ethtool -K eth0 tx off >/dev/null &&
		vsn_ns "$NS_NODE" ethtool -K "$IF_NODE_CLIENT" tx off >/dev/null &&
		vsn_ns "$NS_CLIENT" ip link set dev eth0 up &&
		vsn_ns "$NS_NODE" ip link set dev "$IF_NODE_CLIENT" up &&
		vsn_ns "$NS_CLIENT" ip route add "$VIP/32" via "$NODE_C4" dev eth0 || return 1

	for s in $SLBS; do
		ns=${NS_SLB_OF[$s]}
		i=${IF_OF[$s]}
		# Direct server return: the SLB holds the VIP but must not answer ARP for it.
		vsn_ns "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
			net.ipv4.conf.all.arp_announce=2 || return 1
		ip link add name "$i" netns "$NS_NODE" type veth peer name eth0 netns "$ns" || return 1
		# GRO on the SLB's end before the node's end comes up (a redirect target then).
		vsn_ns "$ns" ethtool -K eth0 tx off >/dev/null &&
			vsn_ns "$ns" ethtool -K eth0 gro on >/dev/null &&
			vsn_ns "$ns" ip addr add "${ADDR_OF[$s]}/24" dev eth0 &&
			vsn_ns "$ns" ip addr add "$VIP/32" dev lo &&
			vsn_ns "$NS_NODE" ip addr add "${NODE_ADDR_OF[$s]}/24" dev "$i" &&
			vsn_ns "$NS_NODE" sysctl -qw "net.ipv4.conf.$i.rp_filter=0" &&
			vsn_ns "$NS_NODE" ethtool -K "$i" tx off >/dev/null &&
			vsn_ns "$NS_NODE" ip link set dev "$i" up &&
			vsn_ns "$ns" ip link set dev eth0 up &&
			vsn_ns "$ns" ip route add default via "${NODE_ADDR_OF[$s]}" dev eth0 || return 1
	done
	# Links ready and neighbour caches warm, both ways between the node and each SLB (the
	# node's probes and its l2 forwarding need the SLBs' MACs).
	retry 10 vsn_ns "$NS_CLIENT" ping -c 1 -W 1 "$NODE_C4" || {
		echo "no answer from $NODE_C4 in $NS_CLIENT" >&2
		return 1
	}
	for s in $SLBS; do
		dst=${NODE_ADDR_OF[$s]}
		if ! retry 10 vsn_ns "${NS_SLB_OF[$s]}" ping -c 1 -W 1 "$dst" ||
			! retry 10 vsn_ns "$NS_NODE" ping -c 1 -W 1 "${ADDR_OF[$s]}"; then
			echo "no ping between the node and $s" >&2
			return 1
		fi
	done
}

# ---- vsnd, the agent, the CLI ----

vsnd_start() {
	local m

	m=$(mark "$VSND_LOG")
	bg_in "$NS_NODE" "$VSND_LOG" "$VSND" --listen "127.0.0.1:$PORT" --ca "$S/ctl/ca.crt" \
		--cert "$S/ctl/$CTL_NAME.crt" --key "$S/ctl/$CTL_NAME.key" --db "$DB" \
		--api "127.0.0.1:$API_PORT" --tokens "$S/tokens" --eval-interval-ms 100 \
		--dwell-ms 2000
	VSND_PID=$BG_PID
	wait_log "$VSND_LOG" "$m" ' vsnd start: listen=' 5000
}

write_node_cfg() {
	cat >"$S/node1.yaml" <<EOF
node: node1
controller: 127.0.0.1:$PORT
tls:
  ca: $S/node1/ca.crt
  cert: $S/node1/node1.crt
  key: $S/node1/node1.key
state_dir: $S/node1-state
pin_dir: $PIN_DIR
interfaces:
  - name: $IF_NODE_CLIENT
max_flows: 4096
stats_interval_ms: 500
keepalive_interval_ms: 1000
keepalive_timeout_ms: 7000
reconnect_min_ms: 50
reconnect_max_ms: 500
EOF
}

agent_start() {
	bg_in "$NS_NODE" "$NODE_LOG" "$VSN_NODE" --config "$S/node1.yaml"
	NODE_PID=$BG_PID
}

# cli ARGS: vsn ARGS in the node namespace with the admin token; output in OUT, status in RC.
OUT='' RC=0
cli() {
	VSN_TOKEN=$ADMIN_TOKEN VSN_CA="$S/ctl/ca.crt" VSN_SERVER="https://127.0.0.1:$API_PORT" \
		USER=tester nsenter --net="/run/netns/$NS_NODE" "$VSN" "$@" >"$S/cli.out" 2>&1
	RC=$?
	OUT=$(cat "$S/cli.out")
	echo "\$ vsn $* -> $RC" >>"$S/cli.log"
	cat "$S/cli.out" >>"$S/cli.log"
	return 0
}

write_doc() {
	local s

	{
		printf 'nodes:\n  - name: node1\nslbs:\n'
		for s in $SLBS; do
			cat <<EOF
  - name: $s
    address: ${ADDR_OF[$s]}
    health: {http: {port: 80, path: /}, interval: 100ms, timeout: 80ms, rise: 2, fall: 2}
EOF
		done
		cat <<EOF
virtual_services:
  - name: web
    vip: $VIP
    ports: [tcp/80]
    nodes: [node1]
    configurations:
      - name: normal
        policies:
          - destination: slb-a
      - name: failover
        priority: 10
        when: 'not healthy(slb slb-a)'
        policies:
          - destination: slb-b
EOF
	} >"$1"
}

# show: 'vsn-dpctl show' of the node's forwarder, in SHOW.
SHOW=''
show() {
	SHOW=$(vsn_ns "$NS_NODE" "$VSN_DPCTL" --pin-dir "$PIN_DIR" show 2>&1)
}

# ask: one request from the client to the VIP (a new connection); the answer's body, or nothing.
ask() {
	vsn_ns "$NS_CLIENT" curl -s --connect-timeout 0.3 --max-time 0.5 "http://$VIP/" 2>/dev/null
}

# wait_answer NAME TIMEOUT_MS: curl the VIP every ~50 ms until NAME answers; WAIT_MS how long it
# took from T0 (now_us, default now); the answers seen along the way in ANSWERS (counted).
WAIT_MS='' ANSWERS=''
wait_answer() {
	local want=$1 tmo=$2 t0=${3:-$(now_us)} t1 a left
	local -A seen=()

	ANSWERS=''
	while :; do
		t1=$(now_us)
		a=$(ask)
		[ -n "$a" ] || a='(no answer)'
		seen[$a]=$((${seen[$a]:-0} + 1))
		if [ "$a" = "$want" ]; then
			WAIT_MS=$(ms_since "$t0")
			break
		fi
		if [ "$(ms_since "$t0")" -ge "$tmo" ]; then
			WAIT_MS=''
			break
		fi
		left=$((50000 - ($(now_us) - t1)))
		((left > 0)) && sleep "0.$(printf '%06d' "$left")"
	done
	for a in "${!seen[@]}"; do ANSWERS+="$a x${seen[$a]}; "; done
	[ -n "$WAIT_MS" ]
}

nginx_slb() { # SLB
	vsn_nginx_start "${NS_SLB_OF[$1]}" "nginx-$1" "$1"
}

# ---- the checks ----

# web on normal: slb-a answers (health probes up on both SLBs first).
normal_answers_slb_a() {
	local s

	for s in $SLBS; do
		wait_log "$VSND_LOG" 0 " vsnd slb-health: slb=$s .*to=up" 5000 || return 1
	done
	wait_answer slb-a 10000 || vsn_fail "no answer 'slb-a' from the VIP in 10 s: $ANSWERS" ||
		return 1
	echo "answers: $ANSWERS"
	show
	echo "$SHOW"
	grep -qE "^  slb [0-9]+ ${ADDR_OF[slb-a]} l2 up " <<<"$SHOW" ||
		vsn_fail "slb-a is not up in the forwarder" || return 1
	grep -q ' vsnd configuration: service=web .*to=failover' "$VSND_LOG" &&
		vsn_fail "web switched to failover before the kill: $(grep ' vsnd configuration: ' "$VSND_LOG")" &&
		return 1
	return 0
}

FAILOVER_MS=''
failover_on_kill() {
	local master kids=() m t0 i

	master=$(cat "$VSN_STATE_DIR/nginx-slb-a/nginx.pid" 2>/dev/null)
	[ -n "$master" ] && alive "$master" || vsn_fail "no nginx master on slb-a" || return 1
	mapfile -t kids < <(awk -v p="$master" '$4 == p { print $1 }' /proc/[0-9]*/stat 2>/dev/null)
	m=$(mark "$VSND_LOG")
	t0=$(now_us)
	# A crash: the master and its workers at once (workers outlive a killed master otherwise).
	kill -KILL "$master" "${kids[@]}"
	wait_answer slb-b 10000 "$t0" || vsn_fail "no answer 'slb-b' within 10 s of the kill: $ANSWERS" ||
		return 1
	FAILOVER_MS=$WAIT_MS
	echo "first answer slb-b $FAILOVER_MS ms after the kill; answers meanwhile: $ANSWERS"
	vsn_note "failover: first answer 'slb-b' $FAILOVER_MS ms after nginx on slb-a was killed ($ANSWERS)"
	wait_log "$VSND_LOG" "$m" " vsnd slb-health: slb=slb-a .*to=down" 1000 || return 1
	wait_log "$VSND_LOG" "$m" " vsnd configuration: service=web from=normal to=failover" 1000 ||
		return 1
	since "$VSND_LOG" "$m" | grep -E ' vsnd (slb-health|configuration): '
	for i in $(seq 1 100); do
		show
		grep -qE "^  slb [0-9]+ ${ADDR_OF[slb-a]} l2 down " <<<"$SHOW" && break
		sleep 0.01
	done
	echo "$SHOW"
	grep -qE "^  slb [0-9]+ ${ADDR_OF[slb-a]} l2 down " <<<"$SHOW" ||
		vsn_fail "slb-a is not down in the node's forwarder" || return 1
	[ "$FAILOVER_MS" -lt "$FAILOVER_MAX_MS" ] ||
		vsn_fail "failover took $FAILOVER_MS ms, not under $FAILOVER_MAX_MS ms"
}

RETURN_MS=''
return_on_restart() {
	local m t0

	m=$(mark "$VSND_LOG")
	t0=$(now_us)
	nginx_slb slb-a || vsn_fail "nginx did not start again on slb-a" || return 1
	wait_answer slb-a "$RETURN_MAX_MS" "$t0" ||
		vsn_fail "no answer 'slb-a' within $RETURN_MAX_MS ms of nginx's restart: $ANSWERS" ||
		return 1
	RETURN_MS=$WAIT_MS
	echo "answers: $ANSWERS"
	vsn_note "return: first answer 'slb-a' $RETURN_MS ms after nginx on slb-a restarted (dwell 2 s from the switch)"
	wait_log "$VSND_LOG" "$m" " vsnd slb-health: slb=slb-a .*to=up" 1000 || return 1
	wait_log "$VSND_LOG" "$m" " vsnd configuration: service=web from=failover to=normal" 1000 ||
		return 1
	since "$VSND_LOG" "$m" | grep -E ' vsnd (slb-health|configuration): '
	show
	grep -qE "^  slb [0-9]+ ${ADDR_OF[slb-a]} l2 up " <<<"$SHOW" ||
		vsn_fail "slb-a is not up again in the forwarder: $SHOW"
}

clean_stop() {
	local f bad=0

	stop_pid "$NODE_PID" TERM
	[ "$STOP_RC" -eq 0 ] || vsn_fail "vsn-node exited $STOP_RC" || bad=1
	NODE_PID=''
	stop_pid "$VSND_PID" TERM
	[ "$STOP_RC" -eq 0 ] || vsn_fail "vsnd exited $STOP_RC" || bad=1
	VSND_PID=''
	for f in "$VSND_LOG" "$NODE_LOG" "$S/cli.log"; do
		if grep -qE 'Sanitizer|runtime error:' "$f" 2>/dev/null; then
			vsn_fail "sanitizer report in $(basename "$f"):"
			grep -A 30 -E 'Sanitizer|runtime error:' "$f" | head -n 60
			bad=1
		fi
	done
	return $bad
}

# ---- setup ----

check() {
	local name=$1 log=$VSN_STATE_DIR/tap.log t0 ms

	VSN_TAP_N=$((VSN_TAP_N + 1))
	t0=$(now_us)
	if "$@" >"$log" 2>&1; then
		ms=$(ms_since "$t0")
		VSN_TAP_PASS=$((VSN_TAP_PASS + 1))
		echo "ok $VSN_TAP_N - $name ($ms ms)"
	else
		ms=$(ms_since "$t0")
		VSN_TAP_FAIL=$((VSN_TAP_FAIL + 1))
		echo "not ok $VSN_TAP_N - $name ($ms ms)"
		sed 's/^/#   /' "$log"
	fi
	# Globals set by a check survive: it ran in this shell.
}

keep_logs() {
	[ -n "${VSN_LOG_DIR:-}" ] && [ -n "$S" ] && [ -d "$S" ] || return 0
	mkdir -p "$VSN_LOG_DIR" &&
		(cd "$S" && find . -maxdepth 2 -type f \( -name '*.log' -o -name '*.yaml' -o \
			-name '*.out' \) -exec cp --parents -t "$VSN_LOG_DIR" {} +)
}

random_token() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

setup() {
	local s

	failover_topology_build "vsnf$$-" "/sys/fs/bpf/vsnf$$" || return 1
	for s in $SLBS; do nginx_slb "$s" || return 1; done
	"$VSN" ca create --dir "$S/ca" --name test-ca >/dev/null &&
		"$VSN" cert issue --ca "$S/ca" --out "$S/ctl" --controller "$CTL_NAME" \
			--ip 127.0.0.1 >/dev/null &&
		"$VSN" cert issue --ca "$S/ca" --out "$S/node1" --node node1 >/dev/null || return 1
	ADMIN_TOKEN=$(random_token)
	(umask 077 && printf 'admin %s # the test\n' "$ADMIN_TOKEN" >"$S/tokens") || return 1
	vsnd_start || return 1
	write_node_cfg
	agent_start
	wait_log "$NODE_LOG" 0 ' vsn-node connected: ' 15000 &&
		wait_log "$VSND_LOG" 0 ' vsnd connected: node=node1 ' 2000 || return 1
	write_doc "$S/doc.yaml"
	cli apply -f "$S/doc.yaml" -m failover
	[ "$RC" -eq 0 ] || vsn_fail "vsn apply exited $RC: $OUT" || return 1
	echo "vsn apply: $OUT"
	wait_log "$NODE_LOG" 0 ' vsn-node apply: ' 5000
}

main() {
	local t0=$SECONDS t

	[ "$(id -u)" -eq 0 ] || vsn_skip "netns tests need root"
	for t in ip nsenter ethtool sysctl nginx curl ping ss awk sed od mountpoint; do
		command -v "$t" >/dev/null 2>&1 || vsn_skip "missing tool: $t (scripts/deps.sh)"
	done
	for t in "$VSND" "$VSN_NODE" "$VSN" "$VSN_DPCTL"; do
		[ -x "$t" ] || {
			echo "error: $t is not built (make all)" >&2
			exit 1
		}
	done
	vsn_bpffs_ensure || exit 1
	# shellcheck disable=SC2119 # a fresh state dir: no argument
	vsn_state_init || exit 1
	vsn_trap_cleanup
	trap 'keep_logs; vsn_cleanup' EXIT
	vsn_tap_init
	S=$VSN_STATE_DIR
	VSND_LOG=$S/vsnd.log
	NODE_LOG=$S/node1.log
	DB=$S/vsn.db
	setup >"$S/setup.out" 2>&1 || {
		echo "Bail out! cannot set up the topology, vsnd and the agent:"
		cat "$S/setup.out" "$VSND_LOG" "$NODE_LOG" 2>/dev/null | tail -n 60 | sed 's/^/#   /'
		exit 1
	}
	vsn_note "namespaces vsnf$$-*, vsnd and node1 (attached to $IF_NODE_CLIENT) up in $((SECONDS - t0)) s"

	check normal_answers_slb_a
	check failover_on_kill
	check return_on_restart
	check clean_stop
	vsn_note "failover ${FAILOVER_MS:-?} ms, return ${RETURN_MS:-?} ms; took $((SECONDS - t0)) s"
	vsn_tap_done
}

main "$@"

# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Shared parts of the live tests of vsnd as a controller with real traffic
# (test_failover_live.sh, test_conditions_live.sh): the topology, the certificates and the token,
# vsnd and the agent, the CLI, requests to the VIP, the TAP runner and the clean stop. Source it
# after lib.sh (whose process and log helpers it uses: bg_in, wait_log, mark, now_us, stop_pid,
# ...); it defines functions and settings and runs nothing.
#
#  +-----------------+      +-------------------------------+      +-----------------------------+
#  | ns client       |      | ns node                       |  sl1 | ns slb-a: eth0 10.100.2.2   |
#  | eth0 10.100.1.2 |------| cli0 [XDP vsn]       sl1 .2.1|------|                             |
#  | 192.0.2.80 via  | veth | 10.100.1.1            sl2 .3.1|------| ns slb-b: eth0 10.100.3.2   |
#  |   the node      |      | vsnd (controller, 127.0.0.1:  |  sl2 |                             |
#  +-----------------+      |   7700 nodes, 7443 API),      |      | lo 192.0.2.80, default via  |
#                           | vsn-node node1 (attached to   |      |   the node                  |
#                           |   cli0), health probes and    |      +-----------------------------+
#                           |   load scrapes to the SLBs    |
#                           +-------------------------------+
#
# Each SLB is a namespace on a veth of its own (an XDP redirect cannot target a bridge), holding
# the VIP on lo for direct server return; what serves there is the test's (nginx, HAProxy).
#
# How a test uses it:
#
#   ctl_main_init TOOL...       root, tools (lib.sh's and TOOL...), binaries, bpffs, the state
#                               dir, cleanup traps, TAP; sets S, VSND_LOG, NODE_LOG, DB
#   ctl_setup PREFIX START_FN DOC_FN [VSND_ARG...]
#                               namespaces PREFIX*, START_FN (the SLBs' servers), certificates
#                               and token, vsnd with VSND_ARG... (--eval-interval-ms, --dwell-ms),
#                               the agent, then DOC_FN FILE writes the document, which is applied
#   ctl_check FUNCTION [ARG...] one TAP check: FUNCTION, timed, its output shown when it fails
#   ctl_clean_stop              the last check: SIGTERM stops the agent and vsnd with status 0,
#                               no sanitizer report in their logs
#
# and in between: ctl_cli (the vsn commands), ctl_apply, ctl_show and ctl_slb_state_is (the
# node's forwarder), ctl_ask and ctl_wait_answer (requests from the client to the VIP),
# ctl_log_ms and ctl_time_ms (times of log lines and events, in ms). The binaries are VSND,
# VSN_NODE, VSN (and lib.sh's VSN_DPCTL) from the environment, or build/'s: the sanitizer builds
# run as
#
#   VSND=build/san/vsnd VSN_NODE=build/san/vsn-node tests/netns/test_....sh
#
# VSN_LOG_DIR=DIR keeps the logs, documents and outputs; VSN_VERBOSE=1 narrates the cleanup.

ctl_abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
VSN_NODE=$(ctl_abs "${VSN_NODE:-$VSN_ROOT/build/vsn-node}")
VSND=$(ctl_abs "${VSND:-$VSN_ROOT/build/vsnd}")
VSN=$(ctl_abs "${VSN:-$VSN_ROOT/build/vsn}")

VIP=$VIP4
CTL_PORT=7700     # nodes to vsnd
CTL_API_PORT=7443 # the REST API
CTL_NAME=ctl.vsn.test

SLBS='slb-a slb-b'
ADDR_OF[slb-a]=10.100.2.2 NODE_ADDR_OF[slb-a]=10.100.2.1 IF_OF[slb-a]=sl1
ADDR_OF[slb-b]=10.100.3.2 NODE_ADDR_OF[slb-b]=10.100.3.1 IF_OF[slb-b]=sl2

S='' VSND_LOG='' NODE_LOG='' DB=''
VSND_PID='' NODE_PID=''
ADMIN_TOKEN=''

# ---- the topology ----


# ---- certificates, vsnd, the agent, the CLI ----

ctl_random_token() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

# ctl_certs_make: a CA, the controller's certificate (CTL_NAME and 127.0.0.1), node1's, and a
# tokens file with one admin token (ADMIN_TOKEN).
ctl_certs_make() {
	"$VSN" ca create --dir "$S/ca" --name test-ca >/dev/null &&
		"$VSN" cert issue --ca "$S/ca" --out "$S/ctl" --controller "$CTL_NAME" \
			--ip 127.0.0.1 >/dev/null &&
		"$VSN" cert issue --ca "$S/ca" --out "$S/node1" --node node1 >/dev/null || return 1
	ADMIN_TOKEN=$(ctl_random_token)
	(umask 077 && printf 'admin %s # the test\n' "$ADMIN_TOKEN" >"$S/tokens")
}

# ctl_vsnd_start [ARG...]: vsnd in controller mode in the node namespace (store DB, API on
# 127.0.0.1), with ARG... added (the evaluation interval, the dwell); waits for its start line.
ctl_vsnd_start() {
	local m

	m=$(mark "$VSND_LOG")
	bg_in "$NS_NODE" "$VSND_LOG" "$VSND" --listen "127.0.0.1:$CTL_PORT" --ca "$S/ctl/ca.crt" \
		--cert "$S/ctl/$CTL_NAME.crt" --key "$S/ctl/$CTL_NAME.key" --db "$DB" \
		--api "127.0.0.1:$CTL_API_PORT" --tokens "$S/tokens" "$@"
	VSND_PID=$BG_PID
	wait_log "$VSND_LOG" "$m" ' vsnd start: listen=' 5000
}

ctl_node_cfg_write() {
	cat >"$S/node1.yaml" <<EOF
node: node1
controller: 127.0.0.1:$CTL_PORT
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

# ctl_agent_start: vsn-node node1, attached to the node's client-facing veth; waits until it and
# vsnd say it is connected.
ctl_agent_start() {
	bg_in "$NS_NODE" "$NODE_LOG" "$VSN_NODE" --config "$S/node1.yaml"
	NODE_PID=$BG_PID
	wait_log "$NODE_LOG" 0 ' vsn-node connected: ' 15000 &&
		wait_log "$VSND_LOG" 0 ' vsnd connected: node=node1 ' 2000
}

# ctl_cli ARGS: vsn ARGS in the node namespace with the admin token; its output (stdout and
# stderr) in OUT, its status in RC. Every call goes to $S/cli.log.
OUT='' RC=0
ctl_cli() {
	VSN_TOKEN=$ADMIN_TOKEN VSN_CA="$S/ctl/ca.crt" VSN_SERVER="https://127.0.0.1:$CTL_API_PORT" \
		USER=tester nsenter --net="/run/netns/$NS_NODE" "$VSN" "$@" >"$S/cli.out" 2>&1
	RC=$?
	OUT=$(cat "$S/cli.out")
	echo "\$ vsn $* -> $RC" >>"$S/cli.log"
	cat "$S/cli.out" >>"$S/cli.log"
	return 0
}

# ctl_apply FILE MESSAGE: vsn apply, which must pass; then waits for the agent to apply a set.
ctl_apply() {
	local m

	m=$(mark "$NODE_LOG")
	ctl_cli apply -f "$1" -m "$2"
	[ "$RC" -eq 0 ] || vsn_fail "vsn apply exited $RC: $OUT" || return 1
	echo "vsn apply: $OUT"
	wait_log "$NODE_LOG" "$m" ' vsn-node apply: ' 5000
}

# ctl_show: 'vsn-dpctl show' of the node's forwarder, in SHOW.
SHOW=''
ctl_show() {
	SHOW=$(vsn_ns "$NS_NODE" "$VSN_DPCTL" --pin-dir "$PIN_DIR" show 2>&1)
}

# ctl_slb_state_is SLB STATE: in SHOW, the forwarder has SLB (l2) in STATE (up, drain, down).
ctl_slb_state_is() {
	grep -qE "^  slb [0-9]+ ${ADDR_OF[$1]//./\\.} l2 $2 " <<<"$SHOW"
}

# ---- the failover document ----

# ctl_failover_doc FILE: node1, slb-a and slb-b probed over HTTP every CTL_PROBE_INTERVAL_MS
# (100) with fall CTL_PROBE_FALL (2) and rise 2, and web: normal to slb-a, failover to slb-b on
# 'not healthy(slb slb-a)' (test_failover_live.sh and bench-conditions/failover.sh).
CTL_PROBE_INTERVAL_MS=100 CTL_PROBE_FALL=2
ctl_failover_doc() {
	local s iv=$CTL_PROBE_INTERVAL_MS

	{
		printf 'nodes:\n  - name: node1\nslbs:\n'
		for s in $SLBS; do
			cat <<EOF
  - name: $s
    address: ${ADDR_OF[$s]}
    health: {http: {port: 80, path: /}, interval: ${iv}ms, timeout: $((iv * 8 / 10))ms, rise: 2, fall: $CTL_PROBE_FALL}
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

# ---- requests to the VIP ----

# ctl_ask [PORT]: one HTTP request from the client to the VIP (a new connection); the answer's
# body, or nothing.
ctl_ask() {
	vsn_ns "$NS_CLIENT" curl -s --connect-timeout 0.3 --max-time 0.5 \
		"http://$VIP:${1:-80}/" 2>/dev/null
}

# ctl_wait_answer NAME TIMEOUT_MS [T0 [PORT]]: ask the VIP every ~50 ms until NAME answers;
# WAIT_MS how long it took from T0 (now_us, default now); the answers seen along the way in
# ANSWERS (counted).
WAIT_MS='' ANSWERS=''
ctl_wait_answer() {
	local want=$1 tmo=$2 t0=${3:-$(now_us)} port=${4:-80} t1 a left
	local -A seen=()

	ANSWERS=''
	while :; do
		t1=$(now_us)
		a=$(ctl_ask "$port")
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

# ---- logs ----

# ctl_time_ms TIME: an RFC 3339 time of the logs and the API (2026-11-27T07:36:53.123Z) in ms
# since the epoch.
ctl_time_ms() { date -u -d "$1" +%s%3N; }

# ctl_log_ms LINE: the time of a daemon's log line (its first field) in ms since the epoch.
ctl_log_ms() { ctl_time_ms "${1%% *}"; }

ctl_now_ms() { echo $(($(now_us) / 1000)); }

# ---- TAP, setup, stop ----

# ctl_check FUNCTION [ARG...]: run a check as a TAP test named FUNCTION (without a ctl_
# prefix), with its time; its output, kept in $S/checks.log, is shown only when it fails.
# Globals a check sets survive (it runs in this shell).
ctl_check() {
	vsn_check --name "${1#ctl_}" "$@"
	cat "$VSN_STATE_DIR/tap.log" >>"$S/checks.log"
}

ctl_keep_logs() { vsn_keep_logs "$S"; }

# ctl_main_init [TOOL...]: skip (77) unless root with every tool (the topology's and TOOL...);
# fail unless the binaries are built; then bpffs, a fresh state dir with its cleanup on exit,
# TAP, and the paths S, VSND_LOG, NODE_LOG, DB.
ctl_main_init() {
	local t

	[ "$(id -u)" -eq 0 ] || vsn_skip "netns tests need root"
	for t in ip nsenter ethtool sysctl curl ping ss awk sed od date mountpoint "$@"; do
		command -v "$t" >/dev/null 2>&1 || vsn_skip "missing tool: $t (scripts/deps.sh)"
	done
	vsn_built "$VSND" "$VSN_NODE" "$VSN" "$VSN_DPCTL"
	vsn_bpffs_ensure || exit 1
	# shellcheck disable=SC2119 # a fresh state dir: no argument
	vsn_state_init || exit 1
	vsn_trap_cleanup
	trap 'ctl_keep_logs; vsn_cleanup' EXIT
	vsn_tap_init
	S=$VSN_STATE_DIR
	VSND_LOG=$S/vsnd.log
	NODE_LOG=$S/node1.log
	DB=$S/vsn.db
}

# ctl_setup PREFIX START_FN DOC_FN [VSND_ARG...]: the topology (namespaces PREFIX*, pin dir
# /sys/fs/bpf/PREFIX), START_FN to start what serves on the SLBs, the certificates, vsnd with
# VSND_ARG..., the agent; then DOC_FN FILE writes the first document ($S/doc.yaml), applied.
# Bails out of the test (TAP "Bail out!") with the logs' ends when any step fails.
ctl_setup() {
	local p=$1 start_fn=$2 doc_fn=$3 t0=$SECONDS

	shift 3
	{
		vsn_slbs_topology_build "$p" "/sys/fs/bpf/${p%-}" &&
			"$start_fn" &&
			ctl_certs_make &&
			ctl_vsnd_start "$@" &&
			ctl_node_cfg_write &&
			ctl_agent_start &&
			"$doc_fn" "$S/doc.yaml" &&
			ctl_apply "$S/doc.yaml" "$doc_fn"
	} >"$S/setup.out" 2>&1 || {
		echo "Bail out! cannot set up the topology, the servers, vsnd and the agent:"
		cat "$S/setup.out" "$VSND_LOG" "$NODE_LOG" 2>/dev/null | tail -n 60 | sed 's/^/#   /'
		exit 1
	}
	vsn_note "namespaces $p*, vsnd and node1 (attached to $IF_NODE_CLIENT) up in $((SECONDS - t0)) s"
}

# ctl_clean_stop [LOG...]: SIGTERM stops the agent and vsnd, each with status 0; no sanitizer
# report in their logs, the CLI's or LOG....
ctl_clean_stop() {
	local f bad=0

	stop_pid "$NODE_PID" TERM
	[ "$STOP_RC" -eq 0 ] || vsn_fail "vsn-node exited $STOP_RC" || bad=1
	NODE_PID=''
	stop_pid "$VSND_PID" TERM
	[ "$STOP_RC" -eq 0 ] || vsn_fail "vsnd exited $STOP_RC" || bad=1
	VSND_PID=''
	for f in "$VSND_LOG" "$NODE_LOG" "$S/cli.log" "$@"; do
		if grep -qE 'Sanitizer|runtime error:' "$f" 2>/dev/null; then
			vsn_fail "sanitizer report in $(basename "$f"):"
			grep -A 30 -E 'Sanitizer|runtime error:' "$f" | head -n 60
			bad=1
		fi
	done
	return $bad
}

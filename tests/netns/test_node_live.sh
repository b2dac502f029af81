#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The node agent and the controller end to end, with real processes (issue 6): vsnd (static mode)
# and vsn-node talk mutual TLS over the node namespace's loopback; the agent programs the XDP
# forwarder on cli0, which forwards the client's traffic to the SLB by l2 (direct server return).
# The agent and the controller are killed (-9) under a numbered UDP stream (vsn-udpseq, which
# counts loss exactly), the node is restarted cold with no controller, SLB states and a two-phase
# rollout are pushed by SIGHUP, and an agent with another CA's certificate is refused.
# Root only (exit 77 otherwise). Prints TAP lines and closes with "N passed, M failed".
#
#  +-----------------+      +----------------------------------------+      +---------------------+
#  | ns client       |      | ns node                                |      | ns slb              |
#  |                 |      |  vsnd 127.0.0.1:7700, --set set.yaml   |      |                     |
#  | curl,           |      |    ^ mutual TLS over lo                |      | nginx :80           |
#  | vsn-udpseq send |      |  vsn-node --config node.yaml           |      | vsn-udpseq recv     |
#  |   VIP:9000      |      |    | programs the pinned forwarder     |      |   VIP:9000          |
#  |                 |      |    v (pin dir /sys/fs/bpf/vsn-test-... |      |                     |
#  |                 |      |       node-PID, state dir in /tmp)     |      |                     |
#  | eth0 10.100.1.2 | veth |  cli0 [XDP vsn]            slb0        | veth | eth0 10.100.2.2     |
#  |                 |------|  10.100.1.1                10.100.2.1  |------| lo 192.0.2.80 (VIP) |
#  +-----------------+      +----------------------------------------+      +---------------------+
#
#  (the full addressing is in tests/netns/lib.sh; the IPv6 half is configured but unused here)
#
# The set vsnd serves (set.yaml): lib.sh's two l2 SLBs and tcp/80 policies, plus the VIP's udp/9000
# to slb 1 (policy 3), generation 1. Later checks rewrite it with a higher generation each time.
#
# Checks, in order (each depends on the previous ones):
#   agent_gets_set             the agent connects, applies generation 1; show and a curl agree
#   kill9_agent_under_stream   kill -9 and restart of the agent: adopt, reconnect, no datagram lost
#   kill9_vsnd_under_stream    kill -9 and restart of vsnd: the agent retries, reconnects in sync
#                              (nothing re-applied), no datagram lost
#   cold_restart_no_controller vsnd and agent stopped, forwarder unloaded: the agent loads it,
#                              restores the persisted set, attaches; curl works without vsnd
#   slb_state_one_round_trip   drain / down / up by SIGHUP reach the forwarder within 1 s each
#                              (read with 'vsn-dpctl show': 'vsn-dpctl slb' only sets a state)
#   two_phase_rollout          vsnd --two-phase: hold, prepare, apply how=commit
#   tls_other_ca_refused       a second agent with a certificate of another CA is refused; the
#                              running forwarder is untouched
#   clean_stop                 SIGTERM stops both with status 0; no sanitizer report in any log
#
# The refused agent of tls_other_ca_refused runs detached (no interfaces), with a state dir and a
# pin dir of its own (PIN_DIR-rogue, small tables), so that whatever it did could not touch the
# main forwarder; it trusts the right CA (so it accepts vsnd and the refusal is vsnd's) and claims
# the main agent's node name, so that a wrongly accepted connection would also show as the main
# agent's session being replaced.
#
#   VSN_NODE=build/san/vsn-node VSND=build/san/vsnd tests/netns/test_node_live.sh   sanitizer builds
#   VSN_VERBOSE=1 ...                                                               narrates cleanup
#   VSN_LOG_DIR=DIR ...                      keeps the logs of vsnd and the agents (and the rest)
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
VSN_NODE=$(abs "${VSN_NODE:-$VSN_ROOT/build/vsn-node}")
VSND=$(abs "${VSND:-$VSN_ROOT/build/vsnd}")
VSN=$(abs "${VSN:-$VSN_ROOT/build/vsn}")
VSN_UDPSEQ=$(abs "${VSN_UDPSEQ:-$VSN_ROOT/build/tests/netns/vsn-udpseq}")

PORT=7700       # vsnd's, on the node namespace's loopback (a namespace of this run only)
UDP_PORT=9000   # the numbered stream's
UDP_RATE=2000   # datagrams a second
UDP_COUNT=10000 # 5 s
NODE_NAME=node1
CTL_NAME=ctl.vsn.test

S='' # $VSN_STATE_DIR
SET='' NODE_CFG='' NODE_LOG='' VSND_LOG=''
NODE_PID='' VSND_PID='' GEN=1

# ---- vsnd ----

# vsnd_start [ARGS]: vsnd with set.yaml and ARGS, once it logs start (its signals are then set up).
vsnd_start() {
	local m

	m=$(mark "$VSND_LOG")
	bg_in "$NS_NODE" "$VSND_LOG" "$VSND" --listen "127.0.0.1:$PORT" --ca "$S/ctl/ca.crt" \
		--cert "$S/ctl/$CTL_NAME.crt" --key "$S/ctl/$CTL_NAME.key" --set "$SET" "$@"
	VSND_PID=$BG_PID
	wait_log "$VSND_LOG" "$m" ' vsnd start: ' 5000
}

vsnd_kill() { # SIGNAL
	[ -n "$VSND_PID" ] || return 0
	stop_pid "$VSND_PID" "$1"
	VSND_PID=''
}

# ---- the agent ----

write_node_cfg() { # FILE NAME CERT_DIR STATE_DIR PIN_DIR INTERFACES_YAML
	cat >"$1" <<EOF
node: $2
controller: 127.0.0.1:$PORT
tls:
  ca: $S/$NODE_NAME/ca.crt
  cert: $3/$2.crt
  key: $3/$2.key
state_dir: $4
pin_dir: $5
interfaces: $6
max_flows: 65536
max_policies: 1024
max_slbs: 64
max_services: 64
stats_interval_ms: 500
keepalive_interval_ms: 1000
# vsnd sends a Keepalive only after 5 s without sending anything: the timeout must exceed that.
keepalive_timeout_ms: 7000
reconnect_min_ms: 50
reconnect_max_ms: 500
EOF
}

agent_start() {
	bg_in "$NS_NODE" "$NODE_LOG" "$VSN_NODE" --config "$NODE_CFG"
	NODE_PID=$BG_PID
}

agent_kill() { # SIGNAL
	[ -n "$NODE_PID" ] || return 0
	stop_pid "$NODE_PID" "$1"
	NODE_PID=''
}

# ---- the set vsnd serves ----

# write_set GENERATION STATE_OF_SLB_1 [EXTRA_POLICY_YAML]
write_set() {
	vsn_policy_write "$SET.tmp"
	sed -i -e "s/^generation: .*/generation: $1/" "$SET.tmp"
	# slb 1 is the first 'state:' of lib.sh's file.
	sed -i -e "0,/state: up/s//state: $2/" "$SET.tmp"
	cat >>"$SET.tmp" <<EOF
  - id: 3
    service: 1
    vip: $VIP4
    proto: udp
    port: $UDP_PORT
    slb: 1
${3:-}
EOF
	mv "$SET.tmp" "$SET"
	GEN=$1
}

# ---- helpers of the checks ----

OUT=''
show() { OUT=$(vsn_dpctl show 2>&1); }

expect_show() { # TEXT
	show || vsn_fail "show failed: $OUT" || return 1
	grep -qF -- "$1" <<<"$OUT" || vsn_fail "expected '$1' in show: $OUT"
}

expect_page() {
	OUT=$(vsn_curl "http://$VIP4/" 5 2>&1) || vsn_fail "curl failed: $OUT" || return 1
	[ "$OUT" = "$SLB_BODY" ] || vsn_fail "curl got '$OUT', not '$SLB_BODY'"
}

# The numbered stream: receiver on the SLB (the VIP is on its lo), sender on the client.
RECV_PID='' SEND_PID='' REPORT=''
stream_start() { # NAME
	local i

	stream_stop
	REPORT=$S/$1.report
	rm -f "$REPORT"
	bg_in "$NS_SLB" "$S/$1.recv.log" "$VSN_UDPSEQ" recv "$VIP4" "$UDP_PORT" "$REPORT"
	RECV_PID=$BG_PID
	for i in $(seq 1 100); do
		[ -n "$(vsn_ns "$NS_SLB" ss -Hlun "sport = :$UDP_PORT")" ] && break
		sleep 0.01
	done
	bg_in "$NS_CLIENT" "$S/$1.send.log" "$VSN_UDPSEQ" send "$VIP4" "$UDP_PORT" "$UDP_RATE" \
		"$UDP_COUNT"
	SEND_PID=$BG_PID
}

# A stream a failed check left running is stopped before the next starts.
stream_stop() {
	[ -n "$SEND_PID" ] && stop_pid "$SEND_PID" TERM
	[ -n "$RECV_PID" ] && stop_pid "$RECV_PID" TERM
	SEND_PID='' RECV_PID=''
}

# stream_end NAME: wait for the sender, let the last datagrams land, stop the receiver; require
# every datagram received once.
stream_end() {
	local r

	wait "$SEND_PID"
	sleep 0.2
	stop_pid "$RECV_PID" TERM
	SEND_PID='' RECV_PID=''
	r=$(cat "$REPORT" 2>/dev/null)
	echo "sender: $(cat "$S/$1.send.log"); receiver: $r"
	vsn_note "$1: $(cat "$S/$1.send.log"), $r"
	[[ $r == "received $UDP_COUNT unique $UDP_COUNT duplicates 0 max $((UDP_COUNT - 1)) missing 0 "* ]] ||
		vsn_fail "expected all $UDP_COUNT datagrams once, got: ${r:-no report}"
}

# ---- the checks ----

agent_gets_set() {
	local t0 ms

	t0=$(now_us)
	agent_start
	wait_log "$NODE_LOG" 0 ' vsn-node load: ' 5000 &&
		wait_log "$NODE_LOG" 0 ' vsn-node attach: interface=cli0' 5000 &&
		wait_log "$NODE_LOG" 0 ' vsn-node connected: ' 5000 &&
		wait_log "$NODE_LOG" 0 ' vsn-node apply: generation=1 how=at-once ' 5000 || return 1
	ms=$(ms_since "$t0")
	wait_log "$VSND_LOG" 0 " vsnd ack: node=$NODE_NAME generation=1 " 2000 || return 1
	expect_show "generation 1, 3 policies" &&
		expect_show "$VIP4 udp/$UDP_PORT -> slb 1 " &&
		expect_show "slb 1 $SLB4 l2 up via ifindex " || return 1
	expect_page || return 1
	vsn_note "agent started, connected and applied generation 1 in $ms ms"
}

kill9_agent_under_stream() {
	local m mv t0 ms_adopt ms_conn

	stream_start agent-kill
	sleep 1
	m=$(mark "$NODE_LOG")
	mv=$(mark "$VSND_LOG")
	agent_kill KILL
	t0=$(now_us)
	agent_start
	wait_log "$NODE_LOG" "$m" " vsn-node adopt: pin_dir=$PIN_DIR layout=[0-9]+ running_generation=$GEN " 3000 ||
		return 1
	ms_adopt=$(ms_since "$t0")
	wait_log "$NODE_LOG" "$m" ' vsn-node connected: .* running_generation='"$GEN"'$' 3000 ||
		return 1
	ms_conn=$(ms_since "$t0")
	wait_log "$VSND_LOG" "$mv" " vsnd in-sync: node=$NODE_NAME generation=$GEN$" 3000 || return 1
	stream_end agent-kill || return 1
	# Adopted: nothing loaded, restored, attached anew or applied.
	[ "$(count_log "$NODE_LOG" "$m" ' vsn-node (load|restore|apply):')" -eq 0 ] ||
		vsn_fail "the restarted agent reloaded or re-applied: $(since "$NODE_LOG" "$m")" ||
		return 1
	since "$NODE_LOG" "$m" | grep -qF " vsn-node attach: interface=cli0 already attached: kept" ||
		vsn_fail "no 'already attached: kept': $(since "$NODE_LOG" "$m")" || return 1
	expect_show "generation $GEN, 3 policies" || return 1
	vsn_note "agent killed -9 and restarted: adopted in $ms_adopt ms, reconnected in $ms_conn ms"
}

kill9_vsnd_under_stream() {
	local m mv t0 tk ms_down ms_conn n_failed

	stream_start vsnd-kill
	sleep 1
	m=$(mark "$NODE_LOG")
	tk=$(now_us)
	vsnd_kill KILL
	wait_log "$NODE_LOG" "$m" ' vsn-node disconnect: ' 2000 || return 1
	# Retries with backoff (50 ms doubling to 500 ms): several in the next half second.
	wait_log "$NODE_LOG" "$m" ' vsn-node connect_failed: ' 2000 || return 1
	sleep 0.5
	n_failed=$(count_log "$NODE_LOG" "$m" ' vsn-node connect_failed: ')
	[ "$n_failed" -ge 2 ] || vsn_fail "only $n_failed connect_failed: $(since "$NODE_LOG" "$m")" ||
		return 1
	ms_down=$(ms_since "$tk")
	mv=$(mark "$VSND_LOG")
	t0=$(now_us)
	vsnd_start || return 1
	wait_log "$NODE_LOG" "$m" ' vsn-node connected: ' 3000 || return 1
	ms_conn=$(ms_since "$t0")
	wait_log "$VSND_LOG" "$mv" " vsnd in-sync: node=$NODE_NAME generation=$GEN$" 2000 || return 1
	stream_end vsnd-kill || return 1
	[ "$(count_log "$NODE_LOG" "$m" ' vsn-node (apply|hold|prepare):')" -eq 0 ] ||
		vsn_fail "re-applied after the reconnect: $(since "$NODE_LOG" "$m")" || return 1
	[ "$(count_log "$VSND_LOG" "$mv" ' vsnd push: ')" -eq 0 ] ||
		vsn_fail "vsnd pushed a set to a node in sync: $(since "$VSND_LOG" "$mv")" || return 1
	vsn_note "vsnd killed -9: $n_failed connect_failed in the $ms_down ms it was down; restarted, the agent reconnected $ms_conn ms later, in sync"
}

cold_restart_no_controller() {
	local m t0 rc ms_restore ms_curl i pgen

	vsnd_kill TERM
	agent_kill TERM
	[ "$STOP_RC" -eq 0 ] || vsn_fail "the agent exited $STOP_RC on SIGTERM" || return 1
	OUT=$(vsn_dpctl unload 2>&1) || vsn_fail "unload failed: $OUT" || return 1
	# Nothing forwards now: the node's kernel has no route to the VIP and says so (curl: 7).
	vsn_curl "http://$VIP4/" 2 >/dev/null 2>&1
	rc=$?
	[ "$rc" -ne 0 ] || vsn_fail "curl succeeded with the forwarder unloaded" || return 1
	m=$(mark "$NODE_LOG")
	t0=$(now_us)
	agent_start
	wait_log "$NODE_LOG" "$m" " vsn-node load: pin_dir=$PIN_DIR" 3000 &&
		wait_log "$NODE_LOG" "$m" " vsn-node apply: generation=$GEN how=restore " 3000 &&
		wait_log "$NODE_LOG" "$m" ' vsn-node attach: interface=cli0 mode=' 3000 || return 1
	ms_restore=$(ms_since "$t0")
	for i in $(seq 1 40); do
		OUT=$(vsn_curl "http://$VIP4/" 1 2>&1) && break
		sleep 0.05
	done
	ms_curl=$(ms_since "$t0")
	[ "$OUT" = "$SLB_BODY" ] || vsn_fail "no page from the restored node: $OUT" || return 1
	[ "$ms_curl" -le 2500 ] || vsn_fail "the first page came $ms_curl ms after the start" ||
		return 1
	# Restored before the attach, which is before any connection attempt.
	since "$NODE_LOG" "$m" | grep -E ' vsn-node (load|apply|attach|connect_failed|connected):' |
		awk '{ print $4 }' | head -n 4 | tr '\n' ' ' | grep -qx 'load: apply: attach: connect_failed: ' ||
		vsn_fail "not load, apply (restore), attach, then connect_failed: $(since "$NODE_LOG" "$m")" ||
		return 1
	[ -z "$VSND_PID" ] || vsn_fail "vsnd runs" || return 1
	expect_show "generation $GEN, 3 policies" && expect_show "  cli0 (ifindex " || return 1
	# The persisted file's generation (header bytes 16..23, big-endian; docs/node.md) is it too.
	pgen=$((16#$(od -An -tx1 -j16 -N8 "$S/node-state/policyset.pb" | tr -d ' \n')))
	[ "$pgen" -eq "$GEN" ] || vsn_fail "policyset.pb holds generation $pgen, not $GEN" ||
		return 1
	vsn_note "cold restart without vsnd: restored and attached in $ms_restore ms, first page at $ms_curl ms"
}

# poll_slb_state STATE: every 10 ms, until show says slb 1 is in STATE; POLL_MS is how long it took.
POLL_MS=''
poll_slb_state() {
	local t0=$1 want=$2

	while :; do
		show
		if grep -qF "slb 1 $SLB4 l2 $want via" <<<"$OUT"; then
			POLL_MS=$(ms_since "$t0")
			return 0
		fi
		[ "$(ms_since "$t0")" -lt 3000 ] || vsn_fail "slb 1 not $want after 3 s: $OUT" ||
			return 1
		sleep 0.01
	done
}

# slb_state_step STATE: a new generation with slb 1 in STATE, SIGHUP; the forwarder must have the
# state within 1 s, by SlbState (logged by the agent before the set's apply).
slb_state_step() {
	local state=$1 m mv t0 first

	m=$(mark "$NODE_LOG")
	mv=$(mark "$VSND_LOG")
	write_set $((GEN + 1)) "$state"
	t0=$(now_us)
	kill -HUP "$VSND_PID"
	poll_slb_state "$t0" "$state" || return 1
	vsn_note "slb 1 -> $state: on the node $POLL_MS ms after the SIGHUP"
	echo "slb 1 -> $state in $POLL_MS ms"
	[ "$POLL_MS" -le 1000 ] || vsn_fail "slb 1 became $state only after $POLL_MS ms" || return 1
	wait_log "$VSND_LOG" "$mv" " vsnd slb-state: slb=1 state=$state previous=[a-z]+ nodes=1$" 2000 &&
		wait_log "$NODE_LOG" "$m" " vsn-node slb_state: slb=1 state=$state$" 2000 &&
		wait_log "$NODE_LOG" "$m" " vsn-node apply: generation=$GEN how=at-once " 2000 ||
		return 1
	first=$(since "$NODE_LOG" "$m" | grep -E ' vsn-node (slb_state|apply):' | head -n 1)
	grep -q ' slb_state: ' <<<"$first" ||
		vsn_fail "the set came before the SlbState: $(since "$NODE_LOG" "$m")"
}

slb_state_one_round_trip() {
	local m rc d

	m=$(mark "$NODE_LOG")
	vsnd_start || return 1
	wait_log "$NODE_LOG" "$m" ' vsn-node connected: ' 3000 || return 1
	slb_state_step drain || return 1
	slb_state_step down || return 1
	vsn_dpctl counters --json >"$S/down0.json" || return 1
	vsn_curl "http://$VIP4/" 2 >/dev/null 2>&1
	rc=$?
	[ "$rc" -ne 0 ] || vsn_fail "curl got a page with the only SLB down" || return 1
	vsn_dpctl counters --json >"$S/down1.json" || return 1
	d=$(vsn_cnt_delta "$S/down0.json" "$S/down1.json" reason drop_slb_down) && [ "$d" -ge 1 ] ||
		vsn_fail "drop_slb_down moved by ${d:-?} (curl exited $rc)" || return 1
	echo "down: curl exited $rc, drop_slb_down +$d"
	slb_state_step up || return 1
	expect_page
}

two_phase_rollout() {
	local m mv t0 ms

	vsnd_kill TERM
	m=$(mark "$NODE_LOG")
	vsnd_start --two-phase || return 1
	wait_log "$NODE_LOG" "$m" ' vsn-node connected: ' 3000 || return 1
	mv=$(mark "$VSND_LOG")
	m=$(mark "$NODE_LOG")
	write_set $((GEN + 1)) up "  - {id: 4, service: 1, vip: $VIP4, proto: udp, port: 9001, slb: 1}"
	t0=$(now_us)
	kill -HUP "$VSND_PID"
	wait_log "$VSND_LOG" "$mv" " vsnd rollout: id=[0-9]+ result=committed " 5000 || return 1
	ms=$(ms_since "$t0")
	wait_log "$NODE_LOG" "$m" " vsn-node hold: generation=$GEN " 2000 &&
		wait_log "$NODE_LOG" "$m" " vsn-node prepare: generation=$GEN " 2000 &&
		wait_log "$NODE_LOG" "$m" " vsn-node apply: generation=$GEN how=commit " 2000 || return 1
	since "$NODE_LOG" "$m" | grep -E ' vsn-node (hold|prepare|apply):' | awk '{ print $4 }' |
		tr '\n' ' ' | grep -qx 'hold: prepare: apply: ' ||
		vsn_fail "not hold, prepare, apply: $(since "$NODE_LOG" "$m")" || return 1
	expect_show "generation $GEN, 4 policies" && expect_show "$VIP4 udp/9001 -> slb 1 " ||
		return 1
	expect_page || return 1
	vsn_note "two-phase rollout of generation $GEN committed $ms ms after the SIGHUP: $(since "$VSND_LOG" "$mv" | grep -o 'result=committed.*')"
}

tls_other_ca_refused() {
	local rogue=$S/rogue pin=$PIN_DIR-rogue log=$S/rogue.log m mv pid

	"$VSN" ca create --dir "$S/ca2" --name other-ca >/dev/null &&
		"$VSN" cert issue --ca "$S/ca2" --out "$rogue" --node "$NODE_NAME" >/dev/null || return 1
	write_node_cfg "$S/rogue.yaml" "$NODE_NAME" "$rogue" "$S/rogue-state" "$pin" "[]"
	vsn_register pindir "$pin"
	m=$(mark "$NODE_LOG")
	mv=$(mark "$VSND_LOG")
	bg_in "$NS_NODE" "$log" "$VSN_NODE" --config "$S/rogue.yaml"
	pid=$BG_PID
	if ! { wait_log "$log" 0 ' vsn-node connect_failed: ' 5000 &&
		wait_log "$VSND_LOG" "$mv" ' vsnd refused: node=- ' 3000; }; then
		stop_pid "$pid" TERM
		return 1
	fi
	# Several attempts, each refused.
	wait_log "$log" 0 ' vsn-node connect_failed: .*attempt=3 ' 3000
	stop_pid "$pid" TERM
	"$VSN_DPCTL" --pin-dir "$pin" unload >/dev/null || vsn_fail "cannot unload $pin" || return 1
	echo "vsnd: $(since "$VSND_LOG" "$mv" | grep ' refused: ' | head -n 1)"
	echo "agent: $(grep ' connect_failed: ' "$log" | head -n 1)"
	since "$VSND_LOG" "$mv" | grep ' vsnd refused: ' | grep -qiE 'certificate|unknown ca' ||
		vsn_fail "vsnd's refusal gives no certificate reason" || return 1
	! since "$VSND_LOG" "$mv" | grep -qE ' vsnd (connected|push|disconnected): ' ||
		vsn_fail "vsnd served the other CA's node: $(since "$VSND_LOG" "$mv")" || return 1
	! grep -qE ' vsn-node (connected|apply):' "$log" ||
		vsn_fail "the refused agent connected: $(cat "$log")" || return 1
	# The main agent's session and forwarder: untouched.
	[ "$(count_log "$NODE_LOG" "$m" ' vsn-node (disconnect|connect_failed|apply|slb_state):')" -eq 0 ] ||
		vsn_fail "the main agent was disturbed: $(since "$NODE_LOG" "$m")" || return 1
	expect_show "generation $GEN, 4 policies" || return 1
	expect_page || return 1
	vsn_note "other CA: $(since "$VSND_LOG" "$mv" | grep -m 1 ' refused: ' | sed 's/.* refused: //')"
}

# Both stop on SIGTERM with status 0; no log holds a sanitizer report; forwarding goes on.
clean_stop() {
	local rc_n rc_d f bad=0

	agent_kill TERM
	rc_n=$STOP_RC
	vsnd_kill TERM
	rc_d=$STOP_RC
	[ "$rc_n" -eq 0 ] && [ "$rc_d" -eq 0 ] ||
		vsn_fail "exit status: vsn-node $rc_n, vsnd $rc_d" || bad=1
	grep -q ' vsn-node stop: ' "$NODE_LOG" || vsn_fail "the agent did not log stop" || bad=1
	for f in "$NODE_LOG" "$VSND_LOG" "$S/rogue.log"; do
		if grep -qE 'Sanitizer|runtime error:' "$f" 2>/dev/null; then
			vsn_fail "sanitizer report in $(basename "$f"):"
			grep -A 30 -E 'Sanitizer|runtime error:' "$f" | head -n 60
			bad=1
		fi
	done
	expect_page || bad=1
	return $bad
}

# ---- setup ----

# With VSN_LOG_DIR set, the run's files (logs, configs, set, reports; not the keys) are copied
# there before the cleanup.
keep_logs() {
	[ -n "${VSN_LOG_DIR:-}" ] && [ -n "$S" ] && [ -d "$S" ] || return 0
	mkdir -p "$VSN_LOG_DIR" &&
		find "$S" -maxdepth 1 -type f ! -name '*.key' -exec cp {} "$VSN_LOG_DIR/" \;
}

certs() {
	"$VSN" ca create --dir "$S/ca" --name test-ca >/dev/null &&
		"$VSN" cert issue --ca "$S/ca" --out "$S/ctl" --controller "$CTL_NAME" >/dev/null &&
		"$VSN" cert issue --ca "$S/ca" --out "$S/$NODE_NAME" --node "$NODE_NAME" >/dev/null
}

main() {
	local t0=$SECONDS t

	vsn_require
	vsn_built "$VSN_NODE" "$VSND" "$VSN" "$VSN_UDPSEQ"
	vsn_bpffs_ensure || exit 1
	vsn_state_init || exit 1
	vsn_trap_cleanup
	trap 'keep_logs; vsn_cleanup' EXIT
	vsn_tap_init
	S=$VSN_STATE_DIR
	SET=$S/set.yaml NODE_CFG=$S/node.yaml NODE_LOG=$S/node.log VSND_LOG=$S/vsnd.log
	vsn_topology_build "vsnn$$-" "/sys/fs/bpf/vsn-test-node-$$" || {
		echo "Bail out! cannot build the topology"
		exit 1
	}
	vsn_nginx_start || {
		echo "Bail out! cannot start nginx"
		exit 1
	}
	certs || {
		echo "Bail out! cannot make the certificates"
		exit 1
	}
	write_set 1 up
	write_node_cfg "$NODE_CFG" "$NODE_NAME" "$S/$NODE_NAME" "$S/node-state" "$PIN_DIR" \
		"[{name: $IF_NODE_CLIENT}]"
	vsnd_start >"$S/start.out" || {
		echo "Bail out! vsnd does not start:"
		cat "$S/start.out" "$VSND_LOG"
		exit 1
	}
	vsn_note "topology $NS_CLIENT / $NS_NODE / $NS_SLB, pin dir $PIN_DIR, vsnd up, $((SECONDS - t0)) s"
	vsn_note "vsn-node $VSN_NODE, vsnd $VSND"

	vsn_tap agent_gets_set
	vsn_tap kill9_agent_under_stream
	vsn_tap kill9_vsnd_under_stream
	vsn_tap cold_restart_no_controller
	vsn_tap slb_state_one_round_trip
	vsn_tap two_phase_rollout
	vsn_tap tls_other_ca_refused
	vsn_tap clean_stop
	vsn_note "took $((SECONDS - t0)) s"
	vsn_tap_done
}

main "$@"

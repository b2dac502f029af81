#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The end-to-end suite: the demo's network (DESIGN.md section 6; tests/netns/demo_lib.sh builds
# it) with real processes and real TCP, and the faults an operator meets: a flow that ECMP moves
# to the other node, an agent killed under traffic, the controller killed while a condition
# changes, an invalid document applied under traffic, and the stop. Root only (exit 77
# otherwise). Prints TAP lines and closes with "N passed, M failed".
#
#                         ECMP on the ports                   bridge 10.100.2.0/24
#  client 10.100.1.2 --- router ---+--- node1 [XDP, vsn-node] ---+--- slb-a .10 HAProxy+nginx (l2)
#         10.100.9.2               |                             +--- slb-b .11 HAProxy+nginx (l2)
#   (the 'clients' prefix)         +--- node2 [XDP, vsn-node] ---+--- slb-c .12 nginx, decap (ipip)
#                                                                +--- ctl .100: vsnd, SQLite, mTLS
#  The SLBs hold the VIP 192.0.2.80 on lo and answer the client through the router (DSR).
#
# Service web (tcp/80): 'normal' sends to the pool of slb-a and slb-b (Maglev), the clients of
# 10.100.9.0/24 to slb-c; 'failover' (when 'not healthy(slb slb-a)') to slb-b, the prefix to
# slb-c. vsnd evaluates every 200 ms with a 3 s dwell (demo_lib.sh's vsnd).
#
# Checks:
#   ecmp_spreads            40 connections from 40 source ports: each answered (200, by slb-a or
#                           slb-b); each flow in exactly one node's connection table, at least 4
#                           of them in each node's; the SLB each table names is the one that
#                           answered; both nodes' service counters moved
#   ecmp_move_same_slb      a long-lived HTTP keep-alive connection (a request every 200 ms,
#                           answered by the SLB's name), through node A; the router's route made
#                           a single next hop via node B: the connection goes on, no reset, the
#                           same SLB answers, node B's table has the flow on the same SLB as A's,
#                           node B's counters move and A's do not for it
#   agent_restart_under_traffic
#                           a steady client loop (a new connection every ~100 ms); node1's agent
#                           SIGKILLed, node1 keeps forwarding (its counters move, vsnd has it
#                           disconnected), the agent restarted: it adopts the pinned forwarder
#                           (same generation, no load), vsn status has it in-sync; not one
#                           request failed from the kill to after the resync
#   controller_restart_while_conditions_change
#                           vsnd SIGKILLed, then slb-a's nginx stopped: the nodes keep their last
#                           set (generations unchanged, every request still gets an answer);
#                           vsnd restarted on the same store: it switches web to failover after
#                           its restart (not before), both nodes run the new generation and send
#                           web to slb-b (the prefix to slb-c), and the client is answered by
#                           slb-b (the prefix by slb-c) only
#   slb_down_on_every_node  meanwhile every node's forwarder has slb-a down, as vsn status has
#                           it, also a node that connected after the probe said down (its set
#                           holds every SLB web may use, not only failover's)
#   return_to_normal        nginx back on slb-a: web returns to normal (after the dwell) on both
#                           nodes, slb-a up in both forwarders
#   invalid_apply_under_traffic
#                           vsn apply of a malformed condition, an unknown SLB and an overlapping
#                           VIP: each fails (exit 1) with FILE:LINE:COLUMN at the right place; the
#                           revision, the document, each node's generations and whole forwarder
#                           state (vsn-dpctl show) are unchanged, no node applied anything; not
#                           one request failed meanwhile
#   clean_stop              SIGTERM stops both agents and vsnd with status 0 (no sanitizer
#                           report); the forwarders still answer after the agents are gone
#   cleanup                 everything removed: no namespace, pin, process or file left
#
#   VSND=build/san/vsnd VSN_NODE=build/san/vsn-node tests/netns/test_e2e_live.sh
#                                               sanitizer builds (also VSN, VSN_DPCTL)
#   VSN_LOG_DIR=DIR ...                         keeps the logs and documents
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/netns/demo_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/demo_lib.sh"

# The demo's names are this run's own: a kept demo (vsndemo-*) or test_demo.sh's stay untouched.
DEMO_PREFIX=vsne$$-
DEMO_PIN=/sys/fs/bpf/vsne$$
DEMO_STATE='' # the state dir, made by vsn_state_init (/tmp/vsn-netns.*)

VIP=$DEMO_VIP
SESSION_PORT=$((20000 + $$ % 5000)) # the long-lived connection's source port: not ephemeral
E2E_TAPLOG=''
DOC=''

# ---- a thin layer over demo_lib.sh ----

# e2e_pid_in NS: the last process registered in namespace NS (the agents: demo_agent_start
# registers theirs, without a variable to read it from).
e2e_pid_in() {
	awk -v ns="$1" '$1 == "pid" && $3 == ns { p = $2 } END { print p }' "$S/resources"
}

# e2e_agent_restart NODE: the agent again, with the configuration demo_agent_start wrote.
e2e_agent_restart() {
	bg_in "$DEMO_PREFIX$1" "$S/$1.log" "$DEMO_VSN_NODE" --config "$S/$1.yaml"
}

# e2e_vsnd_restart: vsnd again on the same store (demo_vsnd_start waits for a start line from
# the log's beginning: it must be one after the restart).
e2e_vsnd_restart() {
	local m

	m=$(mark "$VSND_LOG")
	demo_vsnd_start >/dev/null
	wait_log "$VSND_LOG" "$m" ' vsnd start: ' 10000
}

# e2e_status: 'vsn status -o json' in STATUS.
STATUS=''
e2e_status() {
	STATUS=$(vsnctl status -o json 2>&1) && jq -e . >/dev/null 2>&1 <<<"$STATUS"
}

# e2e_node FIELD NODE: FIELD of NODE in STATUS.
e2e_node() {
	jq -r --arg n "$2" ".nodes[] | select(.name == \$n) | .$1" <<<"$STATUS"
}

# e2e_in_sync NODE...: each NODE connected, in-sync and running its desired generation (STATUS
# fetched afresh).
e2e_in_sync() {
	local n

	e2e_status || return 1
	for n in "$@"; do
		[ "$(e2e_node connected "$n")" = true ] && [ "$(e2e_node sync "$n")" = in-sync ] &&
			[ "$(e2e_node running_generation "$n")" = "$(e2e_node desired_generation "$n")" ] ||
			return 1
	done
}

# e2e_wait TIMEOUT_MS CMD...: CMD until it succeeds, every 100 ms.
e2e_wait() {
	local tmo=$1 t0

	shift
	t0=$(now_us)
	until "$@"; do
		[ "$(ms_since "$t0")" -lt "$tmo" ] || return 1
		sleep 0.1
	done
}

# e2e_gen NODE: the generation NODE's forwarder runs (vsn-dpctl show).
e2e_gen() {
	demo_dpctl "$1" show | awk '$1 == "generation" { sub(/,$/, "", $2); print $2; exit }'
}

# e2e_packets NODE: the packets NODE's forwarder sent for its services so far.
e2e_packets() {
	demo_dpctl "$1" counters --json | jq -s '[.[] | select(.kind == "service") | .packets] | add // 0'
}

# e2e_slb_name NODE ID: the name of the SLB of NODE's forwarder with id ID (by its address).
e2e_slb_name() {
	local addr s

	addr=$(demo_dpctl "$1" show | awk -v id="$2" '$1 == "slb" && $2 == id { print $3; exit }')
	for s in $DEMO_SLBS; do
		[ "${DEMO_ADDR[$s]}" = "$addr" ] && echo "$s" && return 0
	done
	echo "slb#$2"
}

# e2e_flow_slb NODE SPORT: the SLB id of the client's flow from SPORT in NODE's connection table
# (nothing when NODE has no such flow).
e2e_flow_slb() {
	demo_dpctl "$1" flows --json | jq -r --arg c "$DEMO_CLIENT" --argjson p "$2" \
		'select(.src == $c and .sport == $p and .dport == 80) | .slb' | head -n 1
}

# e2e_slb_state NODE SLB: SLB's state in NODE's forwarder (up, drain, down).
e2e_slb_state() {
	demo_dpctl "$1" show |
		awk -v a="${DEMO_ADDR[$2]}" '$1 == "slb" && $3 == a { print $5; exit }'
}

# e2e_routes NODE: where NODE's forwarder sends web's traffic: "pool 1; from 10.100.9.0/24
# slb-c" (SLBs by name).
e2e_routes() {
	local s names=''

	for s in $DEMO_SLBS; do names+="${DEMO_ADDR[$s]}=$s "; done
	demo_dpctl "$1" show | awk -v vip="$VIP" -v names="$names" '
		BEGIN {
			n = split(names, kv, " ")
			for (i = 1; i <= n; i++) { split(kv[i], p, "="); nm[p[1]] = p[2] }
		}
		function dest(kind, id) { return kind == "slb" ? (id in slb ? slb[id] : "slb#" id) : kind " " id }
		$1 == "slb" { slb[$2] = ($3 in nm) ? nm[$3] : $3; next }
		$1 == vip && $2 == "tcp/80" { out = dest($4, $5); on = 1; next }
		on && $1 == "from" { out = out "; from " $2 " " dest($4, $5); next }
		{ on = 0 }
		END { print out }'
}

# e2e_lost FROM_MS TO_MS: the requests of the traffic loop sent in [FROM_MS, TO_MS) that no SLB
# answered with 200, one line each.
e2e_lost() {
	awk -v f="$1" -v t="$2" '$1 >= f && $1 < t && ($3 == "none" || $3 ~ /^http-/)' "$S/traffic.log"
}

# e2e_count FROM_MS TO_MS: how many requests the traffic loop sent in [FROM_MS, TO_MS).
e2e_count() {
	awk -v f="$1" -v t="$2" '$1 >= f && $1 < t { n++ } END { print n + 0 }' "$S/traffic.log"
}

# e2e_traffic_done UNTIL_MS: wait until the traffic loop logged a request sent at or after
# UNTIL_MS, so that every request before it has its result (at most 2 s each).
e2e_traffic_done() {
	local i

	for i in $(seq 1 60); do
		[ "$(awk -v t="$1" '$1 >= t { n++ } END { print n + 0 }' "$S/traffic.log")" -gt 0 ] &&
			return 0
		sleep 0.1
	done
	vsn_fail "the traffic loop logged nothing after $1 (it ends: $(tail -n 3 "$S/traffic.log"))"
}

# ---- the document ----

# e2e_doc FILE: nodes, SLBs with their health probes (as examples/demo.yaml's), the pool of
# slb-a and slb-b, and web with normal and failover.
e2e_doc() {
	local hp='health: {http: {port: 8405, path: /healthz, expect: 200}, interval: 200ms, '
	hp+='timeout: 150ms, rise: 2, fall: 2}'

	cat >"$1" <<EOF
nodes:
  - name: node1
  - name: node2
slbs:
  - name: slb-a
    address: ${DEMO_ADDR[slb-a]}
    $hp
  - name: slb-b
    address: ${DEMO_ADDR[slb-b]}
    $hp
  - name: slb-c
    address: ${DEMO_ADDR[slb-c]}
    forward: ipip
    health: {http: {port: 80, path: /healthz}, interval: 200ms, timeout: 150ms}
pools:
  - name: primary
    forward: l2
    members:
      - {slb: slb-a}
      - {slb: slb-b}
virtual_services:
  - name: web
    vip: $VIP
    ports: [tcp/80]
    nodes: [node1, node2]
    on_change: preserve
    configurations:
      - name: normal
        policies:
          - destination: primary
          - clients: $DEMO_PARTNER_NET
            destination: slb-c
      - name: failover
        priority: 30
        when: 'not healthy(slb slb-a)'
        policies:
          - destination: slb-b
          - clients: $DEMO_PARTNER_NET
            destination: slb-c
EOF
}

# ---- the long-lived connection ----

# e2e_session_start: the long-lived connection, from the client's port SESSION_PORT to the VIP.
# At the client's end (socat EXEC: stdin is what the SLB sends, stdout goes to it) a script sends
# an HTTP/1.1 request every 200 ms on that one connection and writes a line per answer to
# SESSION_LOG: "EPOCH_MS N STATUS REASON BODY" (BODY: the SLB's name), or "EPOCH_MS error WHAT"
# and ends when an answer does not come whole within 3 s (a reset, a close).
SESSION_PID='' SESSION_LOG=''
e2e_session_start() {
	SESSION_LOG=$S/session.log
	cat >"$S/session.sh" <<'EOF' || return 1
#!/bin/bash
log=$1 n=0
ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
while :; do
	n=$((n + 1))
	printf 'GET / HTTP/1.1\r\nHost: vip\r\nUser-Agent: vsn-e2e-session\r\n\r\n' ||
		{ echo "$(ms) error write" >>"$log" && exit 1; }
	IFS= read -r -t 3 st || { echo "$(ms) error no-status" >>"$log" && exit 1; }
	len=0
	while IFS= read -r -t 3 h; do
		h=${h%$'\r'}
		[ -z "$h" ] && break
		case ${h,,} in content-length:*) len=${h#*: } ;; esac
	done
	body=
	if [ "$len" -gt 0 ] && ! IFS= read -r -t 3 -N "$len" body; then
		echo "$(ms) error body" >>"$log"
		exit 1
	fi
	st=${st%$'\r'}
	echo "$(ms) $n ${st#HTTP/1.1 } $body" >>"$log"
	sleep 0.2
done
EOF
	chmod +x "$S/session.sh" || return 1
	: >"$SESSION_LOG"
	bg_in "${DEMO_PREFIX}client" "$S/session.socat.log" socat -d \
		"TCP:$VIP:80,bind=$DEMO_CLIENT,sourceport=$SESSION_PORT,connect-timeout=2" \
		"EXEC:$S/session.sh $SESSION_LOG"
	SESSION_PID=$BG_PID
}

# e2e_session_answers FROM_MS: the session's answers since FROM_MS, counted: "200 slb-a=12".
e2e_session_answers() {
	awk -v f="$1" '$1 >= f && $2 != "error" { print $3 " " $NF }' "$SESSION_LOG" | sort |
		uniq -c | awk '{ printf "%s%s %s=%d", sep, $2, $3, $1; sep = "; " }'
}

# e2e_session_other FROM_MS SLB: the session's lines since FROM_MS that are not a 200 from SLB.
e2e_session_other() {
	awk -v f="$1" -v s="$2" '$1 >= f && !($3 == "200" && $NF == s)' "$SESSION_LOG"
}

# e2e_session_wait N FROM_MS: wait (at most 10 s) until the session has N answers since FROM_MS.
e2e_session_wait() {
	local i

	for i in $(seq 1 100); do
		[ "$(awk -v f="$2" '$1 >= f && $2 != "error"' "$SESSION_LOG" | wc -l)" -ge "$1" ] &&
			return 0
		alive "$SESSION_PID" || break
		sleep 0.1
	done
	vsn_fail "the session has not $1 answers since $2: $(tail -n 5 "$SESSION_LOG")" \
		"$(cat "$S/session.socat.log")"
}

# e2e_session_established: the client has the session's connection, established.
e2e_session_established() {
	[ -n "$(dns client ss -Htn state established "src $DEMO_CLIENT:$SESSION_PORT dst $VIP:80")" ]
}

# e2e_resets: the client's TCP connections ended by a reset so far (TcpEstabResets).
e2e_resets() {
	dns client nstat -saz TcpEstabResets | awk '$1 == "TcpEstabResets" { print $2 }'
}

# ---- the checks ----

ecmp_spreads() {
	local p0 p1 q0 q1 lport body f1 f2 n1=0 n2=0 bad=0 nm

	p0=$(e2e_packets node1) p1=$(e2e_packets node2)
	# 40 connections in a row, each from a new source port; the ports and answers to a file.
	# shellcheck disable=SC2016
	dns client bash -c 'for i in $(seq 1 40); do
			curl -s --connect-timeout 1 --max-time 2 -w " %{local_port} %{http_code}\n" "http://$1/"
		done' burst "$VIP" >"$S/burst.out" 2>&1
	q0=$(e2e_packets node1) q1=$(e2e_packets node2)
	[ "$(awk '{ print $2 }' "$S/burst.out" | sort -u | wc -l)" -eq 40 ] ||
		vsn_fail "not 40 source ports: $(awk '{ print $2 }' "$S/burst.out" | sort | uniq -d)" ||
		return 1
	[ "$(grep -c ' 200$' "$S/burst.out")" -eq 40 ] ||
		vsn_fail "not every connection was answered: $(grep -v ' 200$' "$S/burst.out" | head)" ||
		return 1
	while read -r body lport _; do
		f1=$(e2e_flow_slb node1 "$lport") f2=$(e2e_flow_slb node2 "$lport")
		case "$body" in slb-a | slb-b) ;; *) echo "port $lport: answered by '$body'" && bad=1 ;; esac
		if [ -n "$f1" ] && [ -z "$f2" ]; then
			n1=$((n1 + 1))
			nm=$(e2e_slb_name node1 "$f1")
		elif [ -z "$f1" ] && [ -n "$f2" ]; then
			n2=$((n2 + 1))
			nm=$(e2e_slb_name node2 "$f2")
		else
			echo "port $lport: in node1's table: '${f1}', in node2's: '${f2}' (want exactly one)"
			bad=1
			continue
		fi
		[ "$nm" = "$body" ] || { echo "port $lport: the table says $nm, $body answered" && bad=1; }
	done <"$S/burst.out"
	echo "flows: node1 $n1, node2 $n2; packets: node1 +$((q0 - p0)), node2 +$((q1 - p1))"
	vsn_note "ECMP: 40 connections, $n1 through node1 ($((q0 - p0)) packets)," \
		"$n2 through node2 ($((q1 - p1)) packets); answers:" \
		"$(awk '{ print $1 }' "$S/burst.out" | sort | uniq -c | awk '{ printf "%s=%d ", $2, $1 }')"
	[ "$bad" = 0 ] || return 1
	[ "$n1" -ge 4 ] && [ "$n2" -ge 4 ] ||
		vsn_fail "ECMP does not spread: $n1 flows through node1, $n2 through node2" || return 1
	[ $((q0 - p0)) -gt 0 ] && [ $((q1 - p1)) -gt 0 ] && return 0
	vsn_fail "a node's service counters did not move: node1 +$((q0 - p0)), node2 +$((q1 - p1))"
}

# The router's route to the VIP: both nodes again.
e2e_route_multipath() {
	dns router ip route replace "$VIP/32" nexthop via "${DEMO_UPLINK[node1]}.2" dev n1 \
		nexthop via "${DEMO_UPLINK[node2]}.2" dev n2
}

ecmp_move_same_slb() {
	local rc
	e2e_move_inner
	rc=$?
	e2e_route_multipath || { echo "cannot restore the multipath route" && rc=1; }
	[ -n "$SESSION_PID" ] && stop_pid "$SESSION_PID" TERM
	SESSION_PID=''
	return $rc
}

e2e_move_inner() {
	local t0 a b fa fb sa sb pa0 pa1 pb0 pb1 r0 r1 before after t_move

	r0=$(e2e_resets)
	t0=$(now_ms)
	e2e_session_start || return 1
	e2e_session_wait 5 "$t0" || return 1
	# Node A: the node whose connection table has the session's flow.
	fa='' fb=''
	for a in node1 node2; do
		fa=$(e2e_flow_slb "$a" "$SESSION_PORT")
		[ -n "$fa" ] && break
	done
	[ -n "$fa" ] || vsn_fail "no node has the session's flow (port $SESSION_PORT)" || return 1
	b=node1
	[ "$a" = node1 ] && b=node2
	[ -z "$(e2e_flow_slb "$b" "$SESSION_PORT")" ] ||
		vsn_fail "$b has the session's flow before the move" || return 1
	sa=$(e2e_slb_name "$a" "$fa")
	before=$(e2e_session_answers "$t0")
	echo "session from port $SESSION_PORT through $a, its table: $sa; answers: $before"
	e2e_session_established || vsn_fail "no connection established from port $SESSION_PORT" ||
		return 1
	[ -z "$(e2e_session_other "$t0" "$sa")" ] ||
		vsn_fail "the session's answers are not all '200 $sa': $before" || return 1

	# The move: the router sends the VIP only through node B.
	pa0=$(e2e_packets "$a") pb0=$(e2e_packets "$b")
	t_move=$(now_ms)
	dns router ip route replace "$VIP/32" via "${DEMO_UPLINK[$b]}.2" dev "n${b#node}" ||
		vsn_fail "cannot change the router's route" || return 1
	echo "router: $(dns router ip route show "$VIP")"
	e2e_session_wait 10 "$((t_move + 100))" || return 1
	pa1=$(e2e_packets "$a") pb1=$(e2e_packets "$b")
	r1=$(e2e_resets)
	after=$(e2e_session_answers "$((t_move + 100))")
	fb=$(e2e_flow_slb "$b" "$SESSION_PORT")
	sb=$(e2e_slb_name "$b" "${fb:-0}")
	echo "after the move: answers $after; $b's table: ${fb:+$sb};" \
		"packets $a +$((pa1 - pa0)), $b +$((pb1 - pb0)); resets $r0 -> $r1"
	vsn_note "a connection moved from $a to $b: answered by $sa before, $after after; $b picked $sb"
	grep -E '^[0-9]+ error' "$SESSION_LOG" && vsn_fail "the session broke" && return 1
	alive "$SESSION_PID" || vsn_fail "the session ended: $(cat "$S/session.socat.log")" || return 1
	e2e_session_established ||
		vsn_fail "the connection from port $SESSION_PORT is no longer established" || return 1
	[ -z "$(e2e_session_other "$((t_move + 100))" "$sa")" ] ||
		vsn_fail "after the move, answers $after: not all '200 $sa'" || return 1
	[ -n "$fb" ] || vsn_fail "$b has no flow of the session: the packets did not go through it" ||
		return 1
	[ "$fb" = "$fa" ] || vsn_fail "$b sends the flow to $sb, $a sent it to $sa" || return 1
	[ $((pb1 - pb0)) -ge 10 ] || vsn_fail "$b forwarded only $((pb1 - pb0)) packets after the move" ||
		return 1
	[ $((pa1 - pa0)) -le 2 ] ||
		vsn_fail "$a still forwarded $((pa1 - pa0)) packets after the move" || return 1
	[ "$r1" = "$r0" ] || vsn_fail "the client's TcpEstabResets went from $r0 to $r1"
}

agent_restart_under_traffic() {
	local n=node1 pid g0 g1 t_kill t_end p0 p1 m mv lost total

	pid=$(e2e_pid_in "$DEMO_PREFIX$n")
	alive "$pid" || vsn_fail "no agent of $n running ($pid)" || return 1
	g0=$(e2e_gen "$n")
	m=$(mark "$S/$n.log")
	mv=$(mark "$VSND_LOG")
	sleep 1
	t_kill=$(now_ms)
	stop_pid "$pid" KILL
	echo "$n's agent ($pid) killed: status $STOP_RC"
	p0=$(e2e_packets "$n")
	wait_log "$VSND_LOG" "$mv" " vsnd disconnected: node=$n " 5000 || return 1
	sleep 2
	p1=$(e2e_packets "$n")
	[ "$(e2e_gen "$n")" = "$g0" ] || vsn_fail "$n's generation changed without its agent" || return 1
	e2e_agent_restart "$n"
	wait_log "$S/$n.log" "$m" " vsn-node adopt: .*running_generation=$g0 " 5000 || return 1
	wait_log "$S/$n.log" "$m" ' vsn-node connected: ' 15000 || return 1
	e2e_wait 15000 e2e_in_sync node1 node2 ||
		vsn_fail "the nodes are not in-sync after the restart: $STATUS" || return 1
	sleep 1
	t_end=$(now_ms)
	e2e_traffic_done "$t_end" || return 1
	g1=$(e2e_gen "$n")
	total=$(e2e_count "$t_kill" "$t_end")
	lost=$(e2e_lost "$t_kill" "$t_end")
	since "$S/$n.log" "$m" | grep -E ' vsn-node (start|adopt|load|restore|attach|connected|apply):'
	echo "generation $g0 -> $g1; $n forwarded $((p1 - p0)) packets without its agent; requests $total"
	vsn_note "agent of $n killed and restarted: $total requests in $(((t_end - t_kill) / 1000)) s," \
		"$(grep -c . <<<"$lost") not answered; $n forwarded $((p1 - p0)) packets without its agent"
	[ -z "$lost" ] || vsn_fail "requests not answered: $lost" || return 1
	[ "$total" -ge 8 ] || vsn_fail "only $total requests in the window" || return 1
	[ $((p1 - p0)) -gt 0 ] || vsn_fail "$n forwarded nothing while its agent was dead" || return 1
	[ "$g1" = "$g0" ] || vsn_fail "generation $g0 became $g1 across the restart" || return 1
	! since "$S/$n.log" "$m" | grep -E ' vsn-node (load|restore|apply):' ||
		vsn_fail "the restarted agent reloaded or applied instead of adopting" || return 1
	[ "$(e2e_node running_generation "$n")" = "$g0" ] ||
		vsn_fail "vsn status: $n runs $(e2e_node running_generation "$n"), not $g0"
}

controller_restart_while_conditions_change() {
	local rc

	e2e_ctl_restart_inner
	rc=$?
	# Whatever failed, the next checks need a controller.
	if [ -z "$VSND_PID" ] || ! alive "$VSND_PID"; then
		e2e_vsnd_restart || echo "vsnd did not start again"
	fi
	return $rc
}

e2e_ctl_restart_inner() {
	local t_kill t_cond t_start t_sw t_acked m sw line n lost total a p
	local -A g0=()

	for n in $DEMO_NODES; do g0[$n]=$(e2e_gen "$n"); done
	e2e_status || return 1
	[ "$(jq -r '.services[0].configuration' <<<"$STATUS")" = normal ] ||
		vsn_fail "web is not on normal before the kill" || return 1
	m=$(mark "$VSND_LOG")
	sleep 1
	t_kill=$(now_ms)
	stop_pid "$VSND_PID" KILL
	echo "vsnd ($VSND_PID) killed: status $STOP_RC"
	VSND_PID=''
	demo_nginx_stop slb-a || vsn_fail "nginx on slb-a did not stop" || return 1
	t_cond=$(now_ms)
	# No controller: the nodes keep forwarding with their last sets, slb-a still in them.
	sleep 2
	for n in node1 node2; do
		[ "$(e2e_slb_state "$n" slb-a)" = up ] ||
			vsn_fail "$n has slb-a $(e2e_slb_state "$n" slb-a) with no controller" || return 1
	done
	[ "$(e2e_gen node1) $(e2e_gen node2)" = "${g0[node1]} ${g0[node2]}" ] ||
		vsn_fail "generations changed with no controller" || return 1
	t_start=$(now_ms)
	e2e_vsnd_restart || vsn_fail "vsnd did not start again" || return 1
	sw=' vsnd configuration: service=web from=normal to=failover reason='
	wait_log "$VSND_LOG" "$m" "$sw" 15000 || return 1
	line=$(since "$VSND_LOG" "$m" | grep -m1 -E "$sw")
	t_sw=$(ctl_log_ms "$line")
	e2e_wait 15000 e2e_in_sync node1 node2 ||
		vsn_fail "the nodes are not in-sync after the switch: $STATUS" || return 1
	t_acked=$(now_ms)
	since "$VSND_LOG" "$m" |
		grep -E ' vsnd (start|connected|slb-health|configuration|rollout|in-sync):' | cut -c1-220
	for n in node1 node2; do
		a=$(e2e_gen "$n")
		echo "$n: generation $a, web -> $(e2e_routes "$n"), slb-a $(e2e_slb_state "$n" slb-a)"
		[ "$a" = "$(e2e_node running_generation "$n")" ] && [ "$a" -gt "${g0[$n]}" ] ||
			vsn_fail "$n runs generation $a (before the kill: ${g0[$n]})" || return 1
		a=$(e2e_routes "$n")
		[ "$a" = "slb-b; from $DEMO_PARTNER_NET slb-c" ] ||
			vsn_fail "$n sends web's traffic: $a (not failover's)" || return 1
	done
	[ "$(jq -r '.services[0].configuration' <<<"$STATUS")" = failover ] ||
		vsn_fail "vsn status: web runs $(jq -r '.services[0].configuration' <<<"$STATUS")" ||
		return 1
	# The decision came after the restart, not before (the nodes had no new set meanwhile).
	[ "$t_sw" -ge "$t_start" ] || vsn_fail "the switch ($t_sw) came before the restart ($t_start)" ||
		return 1
	sleep 2
	e2e_traffic_done "$(now_ms)" || return 1
	# While vsnd was dead every request got an answer: slb-b's, slb-c's, or slb-a's HAProxy 503
	# (slb-a still in the nodes' sets). After the switch reached the nodes: slb-b and slb-c.
	lost=$(awk -v f="$t_kill" -v t="$t_start" '$1 >= f && $1 < t && $3 == "none"' "$S/traffic.log")
	total=$(e2e_count "$t_kill" "$t_start")
	a=$(demo_answers "$t_cond" "$t_start" main)
	echo "without vsnd: $total requests; main answers $a;" \
		"prefix $(demo_answers "$t_cond" "$t_start" prefix)"
	[ -z "$lost" ] || vsn_fail "requests got no answer while vsnd was dead: $lost" || return 1
	[ "$total" -ge 5 ] || vsn_fail "only $total requests while vsnd was dead" || return 1
	grep -q 'slb-b=' <<<"$a" || vsn_fail "slb-b answered nothing while vsnd was dead" || return 1
	a=$(demo_answers "$((t_acked + 500))" "$(now_ms)" main)
	p=$(demo_answers "$((t_acked + 500))" "$(now_ms)" prefix)
	echo "after the switch: main $a; prefix $p"
	vsn_note "vsnd killed, slb-a's nginx stopped, vsnd restarted: failover decided" \
		"$((t_sw - t_start)) ms after the restart, on both nodes $((t_acked - t_start)) ms after it;" \
		"answers then main: $a, prefix: $p"
	[[ $a =~ ^slb-b=[0-9]+$ ]] || vsn_fail "after the switch main answers $a, not only slb-b" ||
		return 1
	[[ $p =~ ^slb-c=[0-9]+$ ]] || vsn_fail "after the switch prefix answers $p, not only slb-c"
}

# While web runs failover after the restart, every node's forwarder has slb-a as vsn status has
# it: down.
slb_down_on_every_node() {
	local n st bad=0

	e2e_status || return 1
	st=$(jq -r '.slbs[] | select(.name == "slb-a") | .state' <<<"$STATUS")
	echo "vsn status: slb-a $st; web $(jq -r '.services[0].configuration' <<<"$STATUS")"
	[ "$st" = down ] || vsn_fail "vsn status has slb-a $st, not down" || return 1
	for n in $DEMO_NODES; do
		echo "$n: slb-a $(e2e_slb_state "$n" slb-a) (generation $(e2e_gen "$n"))"
		[ "$(e2e_slb_state "$n" slb-a)" = down ] || bad=1
	done
	grep -E ' vsnd (connected|slb-health: slb=slb-a|push|configuration: .* to=failover reason)' \
		"$VSND_LOG" | tail -n 6 | cut -c1-200
	[ "$bad" = 0 ] || vsn_fail "a node's forwarder does not have slb-a down"
}

# nginx back on slb-a: web returns to normal on both nodes (after the dwell), slb-a up on both.
return_to_normal() {
	local m n

	m=$(mark "$VSND_LOG")
	demo_nginx_start slb-a || vsn_fail "nginx did not start again on slb-a" || return 1
	wait_log "$VSND_LOG" "$m" ' vsnd configuration: service=web from=failover to=normal reason=' \
		15000 || return 1
	e2e_wait 15000 e2e_in_sync node1 node2 ||
		vsn_fail "the nodes are not in-sync after the return: $STATUS" || return 1
	for n in node1 node2; do
		echo "$n: generation $(e2e_gen "$n"), web -> $(e2e_routes "$n")," \
			"slb-a $(e2e_slb_state "$n" slb-a)"
		[ "$(e2e_slb_state "$n" slb-a)" = up ] ||
			vsn_fail "$n has slb-a $(e2e_slb_state "$n" slb-a) after the return" || return 1
		[[ "$(e2e_routes "$n")" =~ ^pool\ [0-9]+\;\ from\ $DEMO_PARTNER_NET\ slb-c$ ]] ||
			vsn_fail "$n sends web's traffic: $(e2e_routes "$n") (not normal's)" || return 1
	done
}

# e2e_bad NAME EXPECT_LINE EXPECT_COL PATTERN: vsn apply of $S/NAME.yaml must fail (exit 1) and
# say NAME.yaml:LINE:COL: with a message matching PATTERN.
e2e_bad() {
	local f=$S/$1.yaml out rc

	out=$(vsnctl apply -f "$f" -m "invalid: $1" 2>&1)
	rc=$?
	echo "apply $1.yaml -> $rc: $out"
	[ "$rc" = 1 ] || vsn_fail "vsn apply of $1.yaml exited $rc, not 1" || return 1
	grep -qE "^$f:$2:$3: .*$4" <<<"$out" ||
		vsn_fail "no '$f:$2:$3: ...$4' in the answer" || return 1
	grep -q 'nothing changed' <<<"$out" || vsn_fail "the answer does not say nothing changed"
}

# e2e_snapshot: what must not change: the revision, the document, each node's generations and
# its forwarder's whole state (vsn-dpctl show).
e2e_snapshot() {
	local n

	e2e_status || return 1
	jq -c '{revision, services: [.services[] | {name, configuration}],
		nodes: [.nodes[] | {name, connected, sync, desired_generation, running_generation}]}' \
		<<<"$STATUS"
	vsnctl get state | sha256sum
	vsnctl history -o json | jq -c '[.revisions[] | .revision]'
	for n in $DEMO_NODES; do
		echo "== $n"
		demo_dpctl "$n" show
	done
}

invalid_apply_under_traffic() {
	local t0 t1 m1 m2 mv before after lost total ln col

	e2e_wait 10000 e2e_in_sync node1 node2 || vsn_fail "the nodes are not in-sync: $STATUS" ||
		return 1
	# Three invalid documents, each the valid one with one change.
	sed "s/when: 'not healthy(slb slb-a)'/when: 'not healthy(slb slb-a'/" "$DOC" \
		>"$S/bad-condition.yaml"
	sed 's/- {slb: slb-b}/- {slb: slb-x}/' "$DOC" >"$S/bad-slb.yaml"
	{
		cat "$DOC"
		cat <<EOF
  - name: api
    vip: $VIP
    ports: [tcp/443, tcp/80]
    configurations:
      - name: only
        policies:
          - destination: slb-b
EOF
	} >"$S/bad-overlap.yaml"
	before=$(e2e_snapshot) || vsn_fail "no snapshot: $before" || return 1
	head -n 3 <<<"$before"
	grep -qE '^\{"revision":[1-9]' <<<"$before" && grep -qE '^\[[1-9]' <<<"$before" ||
		vsn_fail "no revision in force, or no history" || return 1
	m1=$(mark "$S/node1.log") m2=$(mark "$S/node2.log") mv=$(mark "$VSND_LOG")
	t0=$(now_ms)
	sleep 1
	ln=$(grep -n "when: 'not healthy(slb slb-a'" "$S/bad-condition.yaml" | cut -d: -f1)
	# The end of the condition: 'when: ' and the quote, then the condition's text.
	col=$(awk -v l="$ln" 'NR == l { print index($0, "when:") + 7 + length("not healthy(slb slb-a") }' \
		"$S/bad-condition.yaml")
	e2e_bad bad-condition "$ln" "$col" "when: expected '\\)'" || return 1
	ln=$(grep -n 'slb: slb-x' "$S/bad-slb.yaml" | cut -d: -f1)
	col=$(awk -v l="$ln" 'NR == l { print index($0, "slb-x") }' "$S/bad-slb.yaml")
	e2e_bad bad-slb "$ln" "$col" "no slb is named 'slb-x'" || return 1
	ln=$(grep -n 'ports: \[tcp/443, tcp/80\]' "$S/bad-overlap.yaml" | cut -d: -f1)
	col=$(awk -v l="$ln" 'NR == l { print index($0, "tcp/80") }' "$S/bad-overlap.yaml")
	e2e_bad bad-overlap "$ln" "$col" "claimed by service 'web'" || return 1
	sleep 1
	t1=$(now_ms)
	after=$(e2e_snapshot) || vsn_fail "no snapshot: $after" || return 1
	e2e_traffic_done "$t1" || return 1
	total=$(e2e_count "$t0" "$t1")
	lost=$(e2e_lost "$t0" "$t1")
	vsn_note "3 invalid applies refused; $total requests meanwhile," \
		"$(grep -c . <<<"$lost") not answered"
	[ "$before" = "$after" ] || vsn_fail "changed: $(diff <(echo "$before") <(echo "$after"))" ||
		return 1
	! since "$S/node1.log" "$m1" | grep -E ' vsn-node (apply|hold|prepare|slb_state):' &&
		! since "$S/node2.log" "$m2" | grep -E ' vsn-node (apply|hold|prepare|slb_state):' ||
		vsn_fail "a node applied something" || return 1
	! since "$VSND_LOG" "$mv" | grep -E ' vsnd (rollout|configuration):' ||
		vsn_fail "vsnd pushed something" || return 1
	[ -z "$lost" ] || vsn_fail "requests not answered: $lost" || return 1
	[ "$total" -ge 5 ] || vsn_fail "only $total requests during the applies"
}

clean_stop() {
	local n pid bad=0 f a

	stop_pid "$TRAFFIC_PID" TERM
	for n in $DEMO_NODES; do
		pid=$(e2e_pid_in "$DEMO_PREFIX$n")
		stop_pid "$pid" TERM
		echo "$n's agent: status $STOP_RC"
		[ "$STOP_RC" = 0 ] || vsn_fail "$n's agent exited $STOP_RC" || bad=1
	done
	stop_pid "$VSND_PID" TERM
	echo "vsnd: status $STOP_RC"
	[ "$STOP_RC" = 0 ] || vsn_fail "vsnd exited $STOP_RC" || bad=1
	grep -E ' vsn-node stop:' "$S/node1.log" "$S/node2.log" | tail -n 2
	for f in "$VSND_LOG" "$S/node1.log" "$S/node2.log"; do
		if grep -qE 'Sanitizer|runtime error:' "$f"; then
			vsn_fail "sanitizer report in $(basename "$f"):"
			grep -A 30 -E 'Sanitizer|runtime error:' "$f" | head -n 60
			bad=1
		fi
	done
	# Forwarding does not need the agents (nor vsnd).
	a=$(dns client curl -s --connect-timeout 1 --max-time 2 "http://$VIP/")
	case "$a" in slb-a | slb-b) ;; *) vsn_fail "no answer after the daemons stopped: '$a'" || bad=1 ;; esac
	return $bad
}

cleanup() {
	local left

	ctl_keep_logs
	demo_cleanup
	left=$(demo_leftovers)
	[ -z "$left" ] || vsn_fail "left behind: $left" || return 1
	ip netns list | grep -q "^$DEMO_PREFIX" && vsn_fail "namespaces left" && return 1
	return 0
}

# ---- TAP, setup ----

# e2e_check FUNCTION: one TAP check, timed; its output shown when it fails. It runs in this
# shell, so what it sets survives; its output goes to a file outside the state dir (cleanup
# removes that).
e2e_check() {
	vsn_check --log "$E2E_TAPLOG" "$@"
	[ -d "$S" ] && cat "$E2E_TAPLOG" >>"$S/checks.log"
}

# The plan and the closing line; non-zero if a check failed.
e2e_done() {
	echo "1..$VSN_TAP_N"
	echo "$VSN_TAP_PASS passed, $VSN_TAP_FAIL failed"
	[ "$VSN_TAP_FAIL" -eq 0 ]
}

ctl_log_ms() { date -u -d "${1%% *}" +%s%3N; }

ctl_keep_logs() { vsn_keep_logs "$S"; }

e2e_setup() {
	local n s

	demo_topology_build || return 1
	for s in $DEMO_SLBS; do demo_nginx_start "$s" || return 1; done
	for s in slb-a slb-b; do demo_haproxy_start "$s" || return 1; done
	demo_slb_decap >/dev/null || return 1
	demo_certs >/dev/null || return 1
	demo_vsnd_start || return 1
	for n in $DEMO_NODES; do demo_agent_start "$n"; done
	for n in $DEMO_NODES; do
		wait_log "$VSND_LOG" 0 " vsnd connected: node=$n " 15000 || return 1
	done
	DOC=$S/web.yaml
	e2e_doc "$DOC"
	vsnctl apply -f "$DOC" -m e2e || return 1
	for s in $DEMO_SLBS; do
		wait_log "$VSND_LOG" 0 " vsnd slb-health: slb=$s .*to=up" 10000 || return 1
	done
	e2e_wait 15000 e2e_in_sync node1 node2 || { echo "not in-sync: $STATUS" && return 1; }
	[ "$(demo_dpctl node1 show | grep -c "^  $VIP tcp/80")" -ge 1 ] || return 1
	# Every neighbour warm: a first request answered through each node.
	vsn_retry 30 dns client curl -sf --max-time 1 "http://$VIP/"
}

main() {
	local t t0=$SECONDS

	vsn_require haproxy jq setsid pgrep socat nstat
	vsn_built "$DEMO_VSND" "$DEMO_VSN_NODE" "$DEMO_VSN" "$VSN_SLB"
	vsn_bpffs_ensure || exit 1
	# shellcheck disable=SC2119 # a fresh state dir: no argument
	vsn_state_init || exit 1
	S=$VSN_STATE_DIR DEMO_STATE=$VSN_STATE_DIR
	E2E_TAPLOG=$(mktemp /tmp/vsn-e2e-tap.XXXXXX) || exit 1
	vsn_trap_cleanup
	trap 'ctl_keep_logs; demo_cleanup; rm -f "$E2E_TAPLOG"' EXIT
	vsn_tap_init
	vsn_register pindir "$DEMO_PIN"
	mkdir -p "$DEMO_PIN" || exit 1
	if ! e2e_setup >"$S/setup.out" 2>&1; then
		echo "Bail out! cannot set up the demo's network, its servers, vsnd and the agents:"
		cat "$S/setup.out" "$VSND_LOG" "$S/node1.log" "$S/node2.log" 2>/dev/null | tail -n 60 |
			sed 's/^/#   /'
		exit 1
	fi
	vsn_note "namespaces $DEMO_PREFIX*, 3 SLBs, vsnd and 2 agents up in $((SECONDS - t0)) s"

	e2e_check ecmp_spreads
	e2e_check ecmp_move_same_slb
	demo_traffic_start
	sleep 1
	e2e_check agent_restart_under_traffic
	e2e_check controller_restart_while_conditions_change
	e2e_check slb_down_on_every_node
	e2e_check return_to_normal
	e2e_check invalid_apply_under_traffic
	e2e_check clean_stop
	e2e_check cleanup
	vsn_note "took $((SECONDS - t0)) s"
	e2e_done
}

main "$@"

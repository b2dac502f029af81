#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Live SLB pools: Maglev picks, the connection table across a set swap, drain and down, with real
# TCP from a client namespace to three SLB namespaces (l2, direct server return). Each SLB runs
# nginx on port 80, answering its name, and vsn-echo (tests/netns/tools/vsn-echo.c) on port 7000,
# echoing each line with its name; the client runs curl (one new connection each) and vsn-echo
# clients (long-lived connections, one line every 100 ms each). Root only (exit 77 otherwise).
# Prints TAP lines and closes with "N passed, M failed".
#
#  +-----------------+      +--------------------------+      +---------------------------+
#  | ns client       |      | ns node                  |  sl1 | ns slb1: eth0 10.100.2.2  |
#  | eth0 10.100.1.2 |------| cli0 [XDP vsn]   sl1 .2.1|------| nginx "slb1", echo "slb1" |
#  | 192.0.2.80 via  | veth | 10.100.1.1       sl2 .3.1|------| ns slb2: eth0 10.100.3.2  |
#  |   the node      |      | forwarding on,   sl3 .4.1|------| ns slb3: eth0 10.100.4.2  |
#  +-----------------+      | rp_filter off            |      | lo 192.0.2.80, default    |
#                           +--------------------------+      |   via the node            |
#                                                             +---------------------------+
#
# Pools (policy files below): pool 1 = slb 1, 2, 3 with weights 1, 2, 3; pool 2 = slb 1 and 2
# (weights 1, 1). Generation 1 sends the VIP's tcp/80 and tcp/7000 to pool 1, generation 2 to
# pool 2: slb3 takes no new flow after the swap, so where new flows go is observable.
#
#   VSN_DPCTL=build/san/vsn-dpctl tests/netns/test_pool_live.sh   with the sanitizer build
#   VSN_VERBOSE=1 ...                                              narrates the cleanup
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VSN_ECHO=${VSN_ECHO:-$VSN_ROOT/build/tests/netns/vsn-echo}
VIP=$VIP4
ECHO_PORT=7000
NEW_FLOWS=600   # check 1: separate connections, one per source port from PORT_BASE_1
LONG_FLOWS=50   # long-lived connections of vsn-echo clients
SWAP_FLOWS=30   # new connections after the swap
DRAIN_FLOWS=120 # new connections while slb 2 drains
PORT_BASE_1=20000 PORT_BASE_SWAP=21000 PORT_BASE_DRAIN=22000
# A long-lived connection sends a line every 100 ms: in 2 s it has at least this many echoes.
MIN_ECHOES_2S=10

NS_SLBS=() # index 1..3
ECHO_PID='' ECHO_REPORT=''

slb_addr() { echo "10.100.$(($1 + 1)).2"; }
node_addr() { echo "10.100.$(($1 + 1)).1"; }

# The client, the node and three SLBs, each on a veth of its own (lib.sh's
# vsn_slbs_topology_build); NS_SLBS[1..3] their namespaces.
pool_topology_build() {
	local i

	SLBS='slb1 slb2 slb3'
	for i in 1 2 3; do
		ADDR_OF[slb$i]=$(slb_addr "$i") NODE_ADDR_OF[slb$i]=$(node_addr "$i") IF_OF[slb$i]=sl$i
	done
	vsn_slbs_topology_build "$1" "$2" || return 1
	NS_SLBS=('' "${NS_SLB_OF[slb1]}" "${NS_SLB_OF[slb2]}" "${NS_SLB_OF[slb3]}")
}

listens() { # NS PORT
	[ "$(vsn_ns "$1" ss -Hltn "sport = :$2" | wc -l)" -ge 1 ]
}

# vsn-echo serve in each SLB namespace, answering with the SLB's name.
echo_servers_start() {
	local i ns pid

	for i in 1 2 3; do
		ns=${NS_SLBS[$i]}
		nsenter --net="/run/netns/$ns" "$VSN_ECHO" serve "slb$i" "$VIP" "$ECHO_PORT" \
			</dev/null >"$VSN_STATE_DIR/echo-slb$i.log" 2>&1 &
		pid=$!
		vsn_register pid "$pid" "$ns"
		vsn_retry 50 listens "$ns" "$ECHO_PORT" || {
			echo "vsn-echo does not listen in $ns: $(cat "$VSN_STATE_DIR/echo-slb$i.log")" >&2
			return 1
		}
	done
}

# policy_file SLBS POOL: a set sending the VIP's ports 80 and ECHO_PORT to pool POOL, defining
# the three SLBs when SLBS is 1. Both sets carry both pools.
policy_file() {
	echo "maglev: {size: 65537, seed: 1}"
	[ "$1" = 1 ] && printf 'slbs:\n  - {id: %d, address: %s}\n  - {id: %d, address: %s}\n  - {id: %d, address: %s}\n' \
		1 "$(slb_addr 1)" 2 "$(slb_addr 2)" 3 "$(slb_addr 3)"
	cat <<EOF
pools:
  - id: 1
    members: [{slb: 1, weight: 1}, {slb: 2, weight: 2}, {slb: 3, weight: 3}]
  - id: 2
    members: [{slb: 1, weight: 1}, {slb: 2, weight: 1}]
policies:
  - {id: 1, service: 1, vip: $VIP, proto: tcp, port: 80, pool: $2}
  - {id: 2, service: 1, vip: $VIP, proto: tcp, port: $ECHO_PORT, pool: $2}
EOF
}

write_policies() {
	policy_file 1 1 >"$VSN_STATE_DIR/pool1.yaml"
	# The swap: the same pools, the VIP's ports to pool 2 (on_change: preserve, the default).
	policy_file 0 2 >"$VSN_STATE_DIR/pool2.yaml"
}

snapshot() {
	vsn_dpctl counters --json >"$VSN_STATE_DIR/$1.json"
}

# flow_delta BEFORE AFTER EVENT: how much a connection-table counter moved.
flow_delta() {
	vsn_cnt_delta "$VSN_STATE_DIR/$1.json" "$VSN_STATE_DIR/$2.json" flow "$3"
}

# predict_many POOL DPORT < SPORTS: "SPORT SLB" for each source port of the client, as
# 'vsn-dpctl predict' computes it for the running set.
predict_many() {
	local pool=$1 dport=$2 sport id

	while read -r sport; do
		id=$(vsn_dpctl predict "$pool" "$CLIENT4" "$sport" "$VIP" "$dport" tcp) || return 1
		echo "$sport $id"
	done
}

# curls NAME COUNT BASE: COUNT HTTP requests to the VIP, each a new connection from source port
# BASE+i (so no 5-tuple repeats across the test); $VSN_STATE_DIR/NAME.got gets "SPORT SLB-NAME"
# per answered request. One curl process: --next gives each transfer its own source port,
# 'Connection: close' ends each connection after its answer, and the first failure ends it all.
curls() {
	local name=$1 n=$2 base=$3 args=() i

	for ((i = 0; i < n; i++)); do
		((i)) && args+=(--next)
		args+=(-sS --fail-early --max-time 3 -H 'Connection: close' --local-port $((base + i))
			-w 'port %{local_port}\n' "http://$VIP/")
	done
	vsn_ns "$NS_CLIENT" curl "${args[@]}" >"$VSN_STATE_DIR/$name.curl" 2>"$VSN_STATE_DIR/$name.err"
	awk '/^slb[0-9]+$/ { who = $1; next } /^port / { if (who != "") print $2, who; who = "" }' \
		"$VSN_STATE_DIR/$name.curl" | sort -n >"$VSN_STATE_DIR/$name.got"
	i=$(wc -l <"$VSN_STATE_DIR/$name.got")
	[ "$i" -eq "$n" ] || vsn_fail "$name: $i of $n requests answered: $(head -c 600 \
		"$VSN_STATE_DIR/$name.err")"
}

# landed_as_predicted NAME POOL: each connection of NAME.got was answered by the SLB that
# 'predict' gives its 5-tuple in POOL.
landed_as_predicted() {
	local name=$1 pool=$2 bad

	awk '{ print $1 }' "$VSN_STATE_DIR/$name.got" | predict_many "$pool" 80 \
		>"$VSN_STATE_DIR/$name.pred" || vsn_fail "predict failed" || return 1
	bad=$(awk 'NR == FNR { want[$1] = $2; next }
		$2 != "slb" want[$1] { print "port " $1 ": answered by " $2 ", predicted slb " want[$1] }' \
		"$VSN_STATE_DIR/$name.pred" "$VSN_STATE_DIR/$name.got")
	[ -z "$bad" ] && return 0
	echo "$(wc -l <<<"$bad") connections not on the SLB predicted; the first 20:"
	head -n 20 <<<"$bad"
	return 1
}

# share NAME SLB-NAME: how many connections of NAME.got that SLB answered.
share() {
	awk -v s="$2" '$2 == s { n++ } END { print n + 0 }' "$VSN_STATE_DIR/$1.got"
}

# ---- vsn-echo clients ----

echo_clients_start() {
	local i

	ECHO_REPORT=$VSN_STATE_DIR/echo.report
	nsenter --net="/run/netns/$NS_CLIENT" "$VSN_ECHO" clients "$VIP" "$ECHO_PORT" \
		"$LONG_FLOWS" "$ECHO_REPORT" </dev/null >"$VSN_STATE_DIR/echo-clients.log" 2>&1 &
	ECHO_PID=$!
	vsn_register pid "$ECHO_PID" "$NS_CLIENT"
	for i in $(seq 1 100); do
		[ -s "$ECHO_REPORT" ] && return 0
		kill -0 "$ECHO_PID" 2>/dev/null || break
		sleep 0.1
	done
	vsn_fail "vsn-echo clients did not set up: $(cat "$VSN_STATE_DIR/echo-clients.log")"
}

# echo_report NAME: a fresh report of the clients (SIGUSR1), as $VSN_STATE_DIR/NAME.rep, one line
# per connection: "LPORT FIRST NOW OK ERR STATE LAST".
echo_report() {
	local seq0 seq n i

	seq0=$(awk 'NR == 1 { print $2 }' "$ECHO_REPORT")
	kill -USR1 "$ECHO_PID" || vsn_fail "vsn-echo clients is gone" || return 1
	for i in $(seq 1 50); do
		seq=$(awk 'NR == 1 { print $2 }' "$ECHO_REPORT")
		if [ "$seq" -gt "$seq0" ]; then
			awk 'NR > 1 { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				print v["lport"], v["first"], v["now"], v["ok"], v["err"], v["state"], v["last"] }' \
				"$ECHO_REPORT" | sort -n >"$VSN_STATE_DIR/$1.rep"
			n=$(wc -l <"$VSN_STATE_DIR/$1.rep")
			[ "$n" -eq "$LONG_FLOWS" ] ||
				vsn_fail "the report holds $n connections, not $LONG_FLOWS"
			return
		fi
		sleep 0.05
	done
	vsn_fail "no report from vsn-echo clients"
}

# echo_progress BEFORE AFTER [SKIP-SLB]: every connection (but those first on SKIP-SLB) is open
# in AFTER, without an error, on its first SLB, with MIN_ECHOES_2S more echoes than in BEFORE.
echo_progress() {
	local bad

	bad=$(awk -v skip="${3:-}" -v min="$MIN_ECHOES_2S" '
		NR == FNR { first[$1] = $2; ok[$1] = $4; next }
		$2 == skip { next }
		!($1 in first) || $6 != "open" || $5 != 0 || $3 != $2 || $2 != first[$1] ||
			$4 - ok[$1] < min {
			print "port " $1 ": first " $2 ", now " $3 ", echoes " ok[$1] " -> " $4 \
				", errors " $5 ", " $6 " (last " $7 ")"
		}' "$VSN_STATE_DIR/$1.rep" "$VSN_STATE_DIR/$2.rep")
	[ -z "$bad" ] && return 0
	echo "$(wc -l <<<"$bad") connections fall short; the first 20:"
	head -n 20 <<<"$bad"
	return 1
}

# The report's connections first on SLB-NAME.
on_slb() { # REPORT SLB-NAME
	awk -v s="$2" '$2 == s { print $1 }' "$VSN_STATE_DIR/$1.rep"
}

# Wait until at least SECONDS have passed since the time stamp T0 (date +%s%N).
wait_since() { # T0 SECONDS
	local left=$((${1} + ${2} * 1000000000 - $(date +%s%N)))

	((left > 0)) && sleep "$((left / 1000000000)).$(printf '%09d' $((left % 1000000000)))"
	return 0
}

# ---- checks ----

apply_pools() {
	local out

	out=$(vsn_dpctl attach "$IF_NODE_CLIENT" 2>&1) || vsn_fail "attach: $out" || return 1
	out=$(vsn_dpctl apply "$VSN_STATE_DIR/pool1.yaml" 2>&1) || vsn_fail "apply: $out" ||
		return 1
	echo "$out"
	grep -qF "generation 1: 2 policies, 3 slbs, 2 pools" <<<"$out" || vsn_fail "unexpected" ||
		return 1
	out=$(vsn_dpctl show 2>&1) || vsn_fail "show: $out" || return 1
	echo "$out"
	[ "$(grep -cE '^  slb [123] 10\.100\.[234]\.2 l2 up via ifindex ' <<<"$out")" -eq 3 ] ||
		vsn_fail "three resolved SLBs expected"
}

# Check 1: each new connection lands on the SLB predict gives its 5-tuple; the weights show; each
# connection is one new flow in the table.
new_flows_follow_predict() {
	local t0 i n want lo hi d

	snapshot new0 || return 1
	t0=$SECONDS
	curls new "$NEW_FLOWS" "$PORT_BASE_1" || return 1
	snapshot new1 || return 1
	vsn_note "$NEW_FLOWS connections in $((SECONDS - t0)) s"
	t0=$SECONDS
	landed_as_predicted new 1 || return 1
	vsn_note "$NEW_FLOWS predictions in $((SECONDS - t0)) s"
	# Weights 1, 2, 3: a sixth, a third and a half of the flows, each within +-50%.
	for i in 1 2 3; do
		n=$(share new "slb$i")
		want=$((NEW_FLOWS * i / 6))
		lo=$((want / 2))
		hi=$((want * 3 / 2))
		echo "slb$i: $n of $NEW_FLOWS (weight $i of 6: $want expected)"
		((n >= lo && n <= hi)) || vsn_fail "slb$i took $n, outside $lo..$hi" || return 1
	done
	d=$(flow_delta new0 new1 flow_new) && [ "$d" -eq "$NEW_FLOWS" ] ||
		vsn_fail "flow_new moved by ${d:-?}, expected $NEW_FLOWS"
}

# Check 2, before the swap: 50 long-lived connections, each on the SLB predict gives it.
long_flows_follow_predict() {
	local bad

	echo_clients_start || return 1
	echo_report open || return 1
	awk '{ print $1 }' "$VSN_STATE_DIR/open.rep" | predict_many 1 "$ECHO_PORT" \
		>"$VSN_STATE_DIR/open.pred" || vsn_fail "predict failed" || return 1
	bad=$(awk 'NR == FNR { want[$1] = $2; next }
		$2 != "slb" want[$1] { print "port " $1 ": on " $2 ", predicted slb " want[$1] }' \
		"$VSN_STATE_DIR/open.pred" "$VSN_STATE_DIR/open.rep")
	[ -z "$bad" ] || vsn_fail "$bad" || return 1
	vsn_note "long-lived connections: $(awk '{ print $2 }' "$VSN_STATE_DIR/open.rep" | sort |
		uniq -c | awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }')"
	# slb3 is not in pool 2: its connections show that a swap keeps remembered flows.
	[ -n "$(on_slb open slb3)" ] || vsn_fail "no long-lived connection on slb3"
}

# Check 2, the swap: the long-lived connections keep their SLBs, slb3 included, which the new
# set's pool does not hold; remembered flows are hits, not rehashed.
swap_preserves_flows() {
	local t0 out d

	snapshot swap0 || return 1
	t0=$(date +%s%N)
	out=$(vsn_dpctl apply "$VSN_STATE_DIR/pool2.yaml" 2>&1) || vsn_fail "apply: $out" ||
		return 1
	echo "$out"
	echo_report swap0 || return 1
	wait_since "$t0" 2
	echo_report swap1 || return 1
	snapshot swap1 || return 1
	echo_progress swap0 swap1 || return 1
	d=$(flow_delta swap0 swap1 flow_rehash) && [ "$d" -eq 0 ] ||
		vsn_fail "flow_rehash moved by ${d:-?} under on_change: preserve" || return 1
	d=$(flow_delta swap0 swap1 flow_hit) && [ "$d" -ge $((LONG_FLOWS * MIN_ECHOES_2S)) ] ||
		vsn_fail "flow_hit moved by ${d:-?}, expected at least $((LONG_FLOWS * MIN_ECHOES_2S))"
}

# Check 2, after the swap: new connections go to pool 2 (slb1, slb2), as predict says.
swap_new_flows_new_pool() {
	curls swap "$SWAP_FLOWS" "$PORT_BASE_SWAP" || return 1
	[ "$(share swap slb3)" -eq 0 ] || vsn_fail "slb3 took $(share swap slb3) new flows" ||
		return 1
	landed_as_predicted swap 2
}

# Check 3: slb 2 drains: its long-lived connections keep echoing, new connections avoid it.
drain_keeps_flows_takes_none() {
	local t0 out n

	n=$(on_slb swap1 slb2 | wc -l)
	[ "$n" -gt 0 ] || vsn_fail "no long-lived connection on slb2 to drain" || return 1
	out=$(vsn_dpctl slb 2 state drain 2>&1) || vsn_fail "drain: $out" || return 1
	t0=$(date +%s%N)
	echo_report drain0 || return 1
	curls drain "$DRAIN_FLOWS" "$PORT_BASE_DRAIN" || return 1
	[ "$(share drain slb2)" -eq 0 ] ||
		vsn_fail "draining slb2 took $(share drain slb2) of $DRAIN_FLOWS new flows" || return 1
	landed_as_predicted drain 2 || return 1
	wait_since "$t0" 2
	echo_report drain1 || return 1
	echo "slb2 holds $n long-lived connections"
	echo_progress drain0 drain1
}

# Check 4: slb 2 goes down: the connection table re-picks its flows (to what predict says), which
# l2 direct server return cannot carry over: the new SLB resets them. Every other connection
# echoes on, without an error.
down_repicks_only_its_flows() {
	local t0 out ports p d n bad i want

	ports=$(on_slb drain1 slb2)
	n=$(wc -w <<<"$ports")
	snapshot down0 || return 1
	out=$(vsn_dpctl slb 2 state down 2>&1) || vsn_fail "down: $out" || return 1
	t0=$(date +%s%N)
	echo_report down0 || return 1
	# Each re-picks on its next line (100 ms).
	for i in $(seq 1 30); do
		vsn_dpctl flows --json >"$VSN_STATE_DIR/flows.json" || return 1
		bad=0
		for p in $ports; do
			grep -q "\"sport\":$p,\"dst\":\"$VIP\",\"dport\":$ECHO_PORT,\"slb\":2," \
				"$VSN_STATE_DIR/flows.json" && bad=1
		done
		[ $bad = 0 ] && break
		sleep 0.1
	done
	snapshot down1 || return 1
	for p in $ports; do
		d=$(awk -F'[:,]' -v p="$p" -v port="$ECHO_PORT" '
			{ for (i = 1; i < NF; i++) v[$i] = $(i + 1) }
			v["\"sport\""] == p && v["\"dport\""] == port { print v["\"slb\""] }' \
			"$VSN_STATE_DIR/flows.json")
		want=$(vsn_dpctl predict 2 "$CLIENT4" "$p" "$VIP" "$ECHO_PORT" tcp) ||
			vsn_fail "predict failed" || return 1
		echo "port $p: was slb 2, now slb ${d:-none}, predicted slb $want"
		[ "$d" = "$want" ] || vsn_fail "port $p: flow on slb ${d:-none}, not $want" || return 1
	done
	d=$(flow_delta down0 down1 flow_repick_down) && [ "$d" -eq "$n" ] ||
		vsn_fail "flow_repick_down moved by ${d:-?}, expected $n" || return 1
	wait_since "$t0" 2
	echo_report down1 || return 1
	echo_progress down0 down1 slb2 || return 1
	# slb2's own connections: reset by the SLB their packets now reach.
	bad=$(awk '$2 == "slb2" && $6 != "reset" { print "port " $1 ": " $6 " (" $7 "), " $4 " echoes" }' \
		"$VSN_STATE_DIR/down1.rep")
	[ -z "$bad" ] || vsn_fail "slb2's connections not reset: $bad"
}

# The docs cannot rot: docs/pools.md shows only vsn-dpctl commands this test ran, and its policy
# files are the ones it applied, byte for byte.
docs_commands_ran() {
	vsn_docs_commands_ran vsn-dpctl "$VSN_ROOT/docs/pools.md" "$VSN_STATE_DIR/dpctl.log" 8
}

docs_show_applied_files() {
	local i=0 f

	awk -v dir="$VSN_STATE_DIR" '/^```yaml/ { on = 1; n++; next } on && /^```/ { on = 0; next }
		on { print > (dir "/doc-" n ".yaml") }' "$VSN_ROOT/docs/pools.md"
	for f in "$VSN_STATE_DIR"/doc-*.yaml; do
		[ -e "$f" ] || break
		i=$((i + 1))
		cmp -s "$f" "$VSN_STATE_DIR/pool$i.yaml" ||
			vsn_fail "yaml block $i of docs/pools.md is not pool$i.yaml: $(diff "$f" \
				"$VSN_STATE_DIR/pool$i.yaml")" || return 1
	done
	[ "$i" -eq 2 ] || vsn_fail "docs/pools.md shows $i policy files, expected 2"
}

main() {
	local t0=$SECONDS i

	vsn_require
	vsn_built "$VSN_ECHO"
	vsn_bpffs_ensure || exit 1
	vsn_state_init || exit 1
	vsn_trap_cleanup
	vsn_tap_init
	pool_topology_build "vsnp$$-" "/sys/fs/bpf/vsnp$$" || {
		echo "Bail out! cannot build the topology"
		exit 1
	}
	for i in 1 2 3; do
		vsn_nginx_start "${NS_SLBS[$i]}" "nginx-slb$i" "slb$i" || {
			echo "Bail out! cannot start nginx in ${NS_SLBS[$i]}"
			exit 1
		}
	done
	echo_servers_start || {
		echo "Bail out! cannot start vsn-echo serve"
		exit 1
	}
	write_policies
	vsn_note "topology $NS_CLIENT / $NS_NODE / ${NS_SLBS[*]:1}, pin dir $PIN_DIR, ready in $((SECONDS - t0)) s"

	vsn_tap apply_pools
	vsn_tap new_flows_follow_predict
	vsn_tap long_flows_follow_predict
	vsn_tap swap_preserves_flows
	vsn_tap swap_new_flows_new_pool
	vsn_tap drain_keeps_flows_takes_none
	vsn_tap down_repicks_only_its_flows
	vsn_tap docs_commands_ran
	vsn_tap docs_show_applied_files
	vsn_note "took $((SECONDS - t0)) s"
	vsn_tap_done
}

main "$@"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Live l2 (direct server return) forwarding through the XDP forwarder, driven by vsn-dpctl, with
# real TCP from a client namespace to nginx in an SLB namespace. Topology: tests/netns/lib.sh.
# Root only (exit 77 otherwise). Prints TAP lines and closes with "N passed, M failed".
#
#   VSN_DPCTL=build/san/vsn-dpctl tests/netns/test_l2_live.sh   runs it with the sanitizer build
#   VSN_VERBOSE=1 ...                                            narrates the cleanup
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CURLS=5 # sequential requests, each a new TCP connection, per counted window
DOC=$VSN_ROOT/docs/dpctl.md

# next.yaml and ipip.yaml are shown in docs/dpctl.md (docs_show_applied_files checks that).
write_next_policy() {
	cat >"$1" <<EOF
# No generation: the running one + 1. slb 1 has no state: it keeps its running state.
slbs:
  - id: 1
    address: $SLB4
    forward: l2
  - id: 3
    address: 10.100.2.3 # no such host: stays unresolved
    forward: l2
policies:
  - id: 1
    service: 1
    vip: $VIP4
    proto: tcp
    port: 80
    slb: 1
  - id: 2
    service: 2
    vip: "$VIP6"
    proto: tcp
    port: 80
    slb: 2 # not in this file: defined on the node by the previous one
  - service: 1 # no id: counted as policy 3, its position
    vip: $VIP4
    proto: udp
    port: any
    slb: 3
EOF
}

# The ipip file shown in docs/dpctl.md: the UDP policy (id 3) moves to slb 4, the SLB host again,
# reached by ipip.
write_ipip_policy() {
	cat >"$1" <<EOF
# slb 4 is the host of slb 1 again, reached by ipip; policy 3 now sends to it.
slbs:
  - id: 4
    address: $SLB4
    forward: ipip
policies:
  - id: 1
    service: 1
    vip: $VIP4
    proto: tcp
    port: 80
    slb: 1
  - id: 2
    service: 2
    vip: "$VIP6"
    proto: tcp
    port: 80
    slb: 2
  - id: 3
    service: 1
    vip: $VIP4
    proto: udp
    port: any
    slb: 4
EOF
}

# ipip carries IPv4 in IPv4 and IPv6 in IPv6: an IPv6 VIP sent to the IPv4 slb 4 is refused.
write_mixed_policy() {
	cat >"$1" <<EOF
slbs:
  - {id: 4, address: $SLB4, forward: ipip}
policies:
  - {id: 1, service: 1, vip: $VIP4, proto: tcp, port: 80, slb: 1}
  - {id: 2, service: 2, vip: "$VIP6", proto: tcp, port: 80, slb: 4}
EOF
}

snapshot() {
	vsn_dpctl counters --json >"$VSN_STATE_DIR/$1.json"
}

# delta NAME_BEFORE NAME_AFTER KIND NAME|ID [packets|bytes]
delta() {
	vsn_cnt_delta "$VSN_STATE_DIR/$1.json" "$VSN_STATE_DIR/$2.json" "$3" "$4" "${5:-packets}"
}

# expect_ok / expect_fail COMMAND...: run it, expecting success / failure; its output is in $OUT.
OUT=
expect_ok() {
	OUT=$("$@" 2>&1) || vsn_fail "failed ($?): $* -> $OUT"
}

expect_fail() {
	if OUT=$("$@" 2>&1); then
		vsn_fail "succeeded but should fail: $* -> $OUT"
		return 1
	fi
}

expect_grep() {
	grep -qF -- "$1" <<<"$OUT" || vsn_fail "expected '$1' in: $OUT"
}

expect_page() {
	expect_ok vsn_curl "$1" || return 1
	[ "$OUT" = "$SLB_BODY" ] || vsn_fail "$1 answered '$OUT', not '$SLB_BODY'"
}

# ---- the checks, in order; each is one TAP line ----

load_with_capacity() {
	expect_ok vsn_dpctl load --max-policies 1024 --max-slbs 64 --max-services 64 || return 1
	expect_grep "max_policies 1024, max_slbs 64, max_services 64"
}

attach_auto() {
	expect_ok vsn_dpctl attach "$IF_NODE_CLIENT" || return 1
	echo "$OUT"
	grep -qE "^attached to $IF_NODE_CLIENT \((native|generic)\)$" <<<"$OUT" ||
		vsn_fail "unexpected: $OUT" || return 1
	vsn_note "auto mode chose: $OUT"
	expect_ok vsn_dpctl show || return 1
	expect_grep "  $IF_NODE_CLIENT (ifindex "
}

apply_check_changes_nothing() {
	expect_ok vsn_dpctl apply "$VSN_STATE_DIR/policy.yaml" --check || return 1
	expect_grep "policy.yaml: 2 slbs, 2 policies, 0 pools, generation 1: ok" || return 1
	expect_ok vsn_dpctl show || return 1
	expect_grep "generation 0, 0 policies"
}

apply_policy() {
	expect_ok vsn_dpctl apply "$VSN_STATE_DIR/policy.yaml" || return 1
	expect_grep "generation 1: 2 policies, 2 slbs"
}

show_resolved() {
	expect_ok vsn_dpctl show || return 1
	echo "$OUT"
	expect_grep "generation 1, 2 policies" &&
		expect_grep "capacity: 1024 policies, 64 slbs, 64 services" &&
		expect_grep "slb 1 $SLB4 l2 up via ifindex " &&
		expect_grep "slb 2 $SLB6 l2 up via ifindex " &&
		expect_grep "$VIP4 tcp/80 -> slb 1 (service 1, policy 1, on_change preserve)" &&
		expect_grep "$VIP6 tcp/80 -> slb 2 (service 2, policy 2, on_change preserve)" || return 1
	if grep -q UNRESOLVED <<<"$OUT"; then
		vsn_fail "an SLB is unresolved"
	fi
}

curl_vip4() { expect_page "http://$VIP4/"; }
curl_vip6() { expect_page "http://[$VIP6]/"; }

# counted_window URL NFT_COUNTER ID: $CURLS requests; the forwarder's counters (fwd_redirect,
# policy, slb and service ID) must move by exactly the packets the SLB saw arrive for the VIP,
# and the policy's bytes by the same IP bytes plus one Ethernet header per packet.
# snapshot_with_nft NAME NFT_COUNTER: a counters snapshot and the SLB's count ("PACKETS BYTES",
# in NFT) taken together: once traffic has settled, and with the SLB's count the same before and
# after the snapshot, so that no late packet falls between the two.
NFT=
snapshot_with_nft() {
	local a b i

	for i in 1 2 3 4 5; do
		vsn_settle
		a=$(vsn_nft_count "$2")
		snapshot "$1" || return 1
		b=$(vsn_nft_count "$2")
		if [ "$a" = "$b" ]; then
			NFT=$a
			return 0
		fi
	done
	vsn_fail "traffic to the SLB does not settle"
}

counted_window() {
	local url=$1 nft=$2 id=$3 n0 b0 n1 b1 n b i d k kind key

	snapshot_with_nft before "$nft" || return 1
	read -r n0 b0 <<<"$NFT"
	for i in $(seq 1 "$CURLS"); do
		expect_page "$url" || return 1
	done
	snapshot_with_nft after "$nft" || return 1
	read -r n1 b1 <<<"$NFT"
	n=$((n1 - n0))
	b=$((b1 - b0))
	echo "SLB saw $n packets, $b IP bytes for $url"
	# SYN, ACK, request, FIN at least, per connection.
	[ "$n" -ge $((4 * CURLS)) ] || vsn_fail "only $n packets reached the SLB" || return 1
	for k in "reason fwd_redirect" "policy $id" "slb $id" "service $id"; do
		read -r kind key <<<"$k"
		d=$(delta before after "$kind" "$key") || vsn_fail "no counter $k" || return 1
		echo "$k moved by $d"
		[ "$d" -eq "$n" ] || vsn_fail "$k moved by $d, the SLB saw $n" || return 1
	done
	d=$(delta before after policy "$id" bytes) || return 1
	[ "$d" -eq $((b + 14 * n)) ] ||
		vsn_fail "policy $id bytes moved by $d, expected $b + 14 * $n" || return 1
	vsn_note "$CURLS requests to $url: $n packets forwarded, counted alike by the SLB and vsn"
}

counters_vip4_exact() { counted_window "http://$VIP4/" vip4_80 1; }
counters_vip6_exact() { counted_window "http://[$VIP6]/" vip6_80 2; }

# The table 'counters' prints says what the JSON says (no traffic runs in between).
counters_text_matches_json() {
	local name pk v k kind key

	snapshot now || return 1
	expect_ok vsn_dpctl counters || return 1
	expect_grep "reasons:" && expect_grep "per slb, service and policy of the running set:" ||
		return 1
	while read -r name pk; do
		v=$(vsn_cnt "$VSN_STATE_DIR/now.json" reason "$name") ||
			vsn_fail "reason $name is not in the JSON" || return 1
		[ "$v" = "$pk" ] || vsn_fail "$name: $pk in the table, $v in the JSON" || return 1
	done < <(awk '/^reasons:/ { on = 1; next } /^(per |connection)/ { on = 0 } on { print $1, $2 }' <<<"$OUT")
	expect_grep "connection table:" || return 1
	while read -r name pk; do
		v=$(vsn_cnt "$VSN_STATE_DIR/now.json" flow "$name") ||
			vsn_fail "flow event $name is not in the JSON" || return 1
		[ "$v" = "$pk" ] || vsn_fail "$name: $pk in the table, $v in the JSON" || return 1
	done < <(awk '/^connection table:/ { on = 1; next } /^per / { on = 0 } on { print $1, $2 }' <<<"$OUT")
	for k in "slb 1" "slb 2" "service 1" "service 2" "policy 1" "policy 2"; do
		read -r kind key <<<"$k"
		v=$(vsn_cnt "$VSN_STATE_DIR/now.json" "$kind" "$key") ||
			vsn_fail "no $k in the JSON" || return 1
		grep -qE "^  $kind +$key +$v pkts" <<<"$OUT" ||
			vsn_fail "$k: not $v pkts in the table" || return 1
	done
}

no_policy_port_dropped() {
	local d

	snapshot before || return 1
	expect_fail vsn_curl "http://$VIP4:8080/" 2 || return 1
	snapshot after || return 1
	d=$(delta before after reason drop_no_policy) && [ "$d" -ge 1 ] ||
		vsn_fail "drop_no_policy moved by ${d:-?}" || return 1
	d=$(delta before after reason fwd_redirect) && [ "$d" -eq 0 ] ||
		vsn_fail "fwd_redirect moved by ${d:-?}"
}

non_vip_passes() {
	local d

	snapshot before || return 1
	expect_ok vsn_ns "$NS_CLIENT" ping -c 2 -i 0.2 -W 2 "$NODE_C4" || return 1
	# Through the node's kernel to the SLB's own address: routed, not forwarded by XDP.
	expect_page "http://$SLB4/" || return 1
	snapshot after || return 1
	d=$(delta before after reason pass_not_tcp_udp) && [ "$d" -ge 2 ] ||
		vsn_fail "pass_not_tcp_udp moved by ${d:-?}" || return 1
	d=$(delta before after reason pass_no_vip) && [ "$d" -ge 4 ] ||
		vsn_fail "pass_no_vip moved by ${d:-?}" || return 1
	d=$(delta before after reason fwd_redirect) && [ "$d" -eq 0 ] ||
		vsn_fail "fwd_redirect moved by ${d:-?}"
}

slb_down_drops() {
	local d

	expect_ok vsn_dpctl slb 1 state down || return 1
	expect_ok vsn_dpctl show || return 1
	expect_grep "slb 1 $SLB4 l2 down via" || return 1
	snapshot before || return 1
	expect_fail vsn_curl "http://$VIP4/" 2 || return 1
	snapshot after || return 1
	d=$(delta before after reason drop_slb_down) && [ "$d" -ge 1 ] ||
		vsn_fail "drop_slb_down moved by ${d:-?}" || return 1
	# slb 2 serves the IPv6 VIP and is still up.
	expect_page "http://[$VIP6]/"
}

slb_up_restores() {
	expect_ok vsn_dpctl slb 1 state up || return 1
	expect_page "http://$VIP4/"
}

# The connection table remembers each flow's SLB; flows, flow-limit show and set it.
connection_table() {
	local n

	expect_ok vsn_dpctl flows --clear || return 1
	expect_grep "connection table cleared" || return 1
	expect_page "http://$VIP4/" || return 1
	expect_ok vsn_dpctl flows || return 1
	echo "$OUT"
	grep -qE "^  tcp $CLIENT4 [0-9]+ -> $VIP4 80: slb 1 \(epoch 1\)$" <<<"$OUT" ||
		vsn_fail "no flow of the curl in: $OUT" || return 1
	expect_grep "1 flows" || return 1
	expect_ok vsn_dpctl flows --json || return 1
	n=$(grep -c "\"src\":\"$CLIENT4\",.*\"dst\":\"$VIP4\",\"dport\":80,\"slb\":1," <<<"$OUT")
	[ "$n" -eq 1 ] || vsn_fail "flows --json: $n flows of the curl in: $OUT" || return 1
	# The default bound: max_flows / 8 a second (1,048,576 / 8), rounded up to the CPU count.
	expect_ok vsn_dpctl flow-limit || return 1
	grep -qE "^at most 1310[0-9]{2} new flows remembered per second$" <<<"$OUT" ||
		vsn_fail "unexpected: $OUT" || return 1
	expect_ok vsn_dpctl flow-limit 0 || return 1
	expect_grep "no bound on new flows remembered" || return 1
	expect_ok vsn_dpctl flow-limit 131072 || return 1
	expect_fail vsn_dpctl flow-limit -5 || return 1
	expect_grep "flow-limit: '-5' is not a number of flows per second"
}

stale_generation_refused() {
	expect_fail vsn_dpctl apply "$VSN_STATE_DIR/policy.yaml" || return 1
	expect_grep "generation 1 is not above the running 1" || return 1
	expect_ok vsn_dpctl show || return 1
	expect_grep "generation 1, 2 policies"
}

# A refused file changes nothing: not the policies, not its SLBs' state. --check refuses it too.
refused_apply_changes_nothing() {
	cat >"$VSN_STATE_DIR/stale.yaml" <<EOF
generation: 1
slbs:
  - {id: 1, address: $SLB4, forward: l2, state: down}
policies:
  - {id: 1, service: 1, vip: $VIP4, proto: tcp, port: 80, slb: 1}
EOF
	expect_fail vsn_dpctl apply "$VSN_STATE_DIR/stale.yaml" --check || return 1
	expect_grep "generation 1 is not above the running 1" || return 1
	expect_fail vsn_dpctl apply "$VSN_STATE_DIR/stale.yaml" || return 1
	expect_grep "generation 1 is not above the running 1" || return 1
	expect_ok vsn_dpctl show || return 1
	expect_grep "slb 1 $SLB4 l2 up via ifindex " && expect_grep "generation 1, 2 policies" &&
		expect_page "http://$VIP4/"
}

# Capacities are fixed at load: asking for others is an error, not silently ignored.
load_other_capacity_refused() {
	expect_fail vsn_dpctl load --max-policies 2048 || return 1
	expect_grep "already loaded under $PIN_DIR with max_policies 1024"
}

apply_defaults() {
	local rc d

	expect_ok vsn_dpctl slb 1 state drain || return 1
	expect_ok vsn_dpctl apply "$VSN_STATE_DIR/next.yaml" || return 1
	echo "$OUT"
	expect_grep "generation 2: 3 policies, 2 slbs" &&
		expect_grep "slb 3 (10.100.2.3): next hop not resolved" || return 1
	expect_ok vsn_dpctl show || return 1
	echo "$OUT"
	expect_grep "generation 2, 3 policies" &&
		expect_grep "slb 1 $SLB4 l2 drain via ifindex " &&
		expect_grep "slb 3 10.100.2.3 l2 up UNRESOLVED" &&
		expect_grep "$VIP4 udp/any -> slb 3 (service 1, policy 3, on_change preserve)" || return 1
	# drain: no new flows. slb 1 is the policy's only SLB, so a new connection is dropped
	# (its source port must not be one the connection table remembers: forget them all).
	expect_ok vsn_dpctl flows --clear || return 1
	snapshot before || return 1
	vsn_curl "http://$VIP4/" 2 >/dev/null 2>&1
	rc=$?
	[ "$rc" -eq 28 ] || vsn_fail "curl exited $rc under drain, expected 28 (timed out)" ||
		return 1
	snapshot after || return 1
	d=$(delta before after reason drop_slb_down) && [ "$d" -ge 1 ] ||
		vsn_fail "drop_slb_down moved by ${d:-?} under drain" || return 1
	expect_ok vsn_dpctl slb 1 state up || return 1
	expect_page "http://$VIP4/"
}

unresolved_drops_no_nexthop() {
	local d i

	snapshot before || return 1
	for i in 1 2 3; do
		vsn_ns "$NS_CLIENT" bash -c "echo hello >/dev/udp/$VIP4/53" || return 1
	done
	sleep 0.2
	snapshot after || return 1
	d=$(delta before after reason drop_no_nexthop) && [ "$d" -eq 3 ] ||
		vsn_fail "drop_no_nexthop moved by ${d:-?}, expected 3" || return 1
	d=$(delta before after policy 3) && [ "$d" -eq 0 ] ||
		vsn_fail "policy 3 moved by ${d:-?}: only forwarded packets count" || return 1
	expect_fail vsn_dpctl resolve || return 1
	echo "$OUT"
	expect_grep "some next hops are still unresolved"
}

# resolve --watch re-resolves on netlink events: when the missing SLB host appears (its address
# added in the SLB namespace), the managed neighbour entry the node made for it resolves, and the
# watch writes the next hop into slb 3's entry; its UDP packets are then forwarded.
resolve_watch_follows_neighbour() {
	local log=$VSN_STATE_DIR/watch.log pid i rc d k kind key t0

	vsn_dpctl_bg "$log" resolve --watch
	pid=$VSN_BG_PID
	for i in $(seq 1 50); do
		grep -q "^watching" "$log" && break
		sleep 0.1
	done
	grep -q "^watching" "$log" || vsn_fail "resolve --watch did not start: $(cat "$log")" ||
		return 1
	expect_ok vsn_ns "$NS_SLB" ip addr add 10.100.2.3/24 dev eth0 || return 1
	t0=$(date +%s%N)
	for i in $(seq 1 75); do
		OUT=$(vsn_dpctl show)
		grep -qF "slb 3 10.100.2.3 l2 up via ifindex " <<<"$OUT" && break
		sleep 0.2
	done
	vsn_note "slb 3 resolved by resolve --watch $((($(date +%s%N) - t0) / 1000000)) ms after its host appeared"
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	echo "resolve --watch said:"
	cat "$log"
	expect_grep "slb 3 10.100.2.3 l2 up via ifindex " || return 1
	[ "$rc" -eq 0 ] || vsn_fail "resolve --watch exited $rc on SIGTERM" || return 1
	grep -q "^1 slb entries changed$" "$log" || vsn_fail "the watch did not report the change" ||
		return 1
	snapshot before || return 1
	for i in 1 2 3; do
		vsn_ns "$NS_CLIENT" bash -c "echo hello >/dev/udp/$VIP4/53" || return 1
	done
	sleep 0.2
	snapshot after || return 1
	for k in "reason fwd_redirect" "policy 3" "slb 3"; do
		read -r kind key <<<"$k"
		d=$(delta before after "$kind" "$key") && [ "$d" -eq 3 ] ||
			vsn_fail "$k moved by ${d:-?}, expected 3" || return 1
	done
	expect_ok vsn_dpctl resolve || return 1
	expect_grep "0 slb entries changed"
}

# The underlay commands docs/dpctl.md shows, and what they print: a family not given is unset.
underlay_commands() {
	expect_ok vsn_dpctl underlay || return 1
	[ "$OUT" = "underlay ipv4 -, ipv6 -" ] || vsn_fail "unset underlay shows: $OUT" || return 1
	expect_ok vsn_dpctl underlay "$NODE_S4" "$NODE_S6" || return 1
	[ "$OUT" = "underlay ipv4 $NODE_S4, ipv6 $NODE_S6" ] || vsn_fail "set: $OUT" || return 1
	expect_ok vsn_dpctl underlay || return 1
	[ "$OUT" = "underlay ipv4 $NODE_S4, ipv6 $NODE_S6" ] || vsn_fail "show: $OUT" || return 1
	expect_ok vsn_dpctl show || return 1
	expect_grep "underlay: ipv4 $NODE_S4, ipv6 $NODE_S6" || return 1
	expect_ok vsn_dpctl underlay "$NODE_S4" || return 1
	[ "$OUT" = "underlay ipv4 $NODE_S4, ipv6 -" ] || vsn_fail "one family: $OUT" || return 1
	expect_fail vsn_dpctl underlay 10.0.0.1 10.0.0.2 || return 1
	expect_grep "underlay: one address per family" || return 1
	expect_ok vsn_dpctl underlay --clear || return 1
	[ "$OUT" = "underlay ipv4 -, ipv6 -" ] || vsn_fail "--clear: $OUT" || return 1
	expect_ok vsn_dpctl show || return 1
	expect_grep "underlay: ipv4 -, ipv6 -"
}

# The gue-port commands docs/dpctl.md shows, and what they print: the node's GUE port, 6080 until
# set, shown by show too.
gue_port_commands() {
	expect_ok vsn_dpctl gue-port || return 1
	[ "$OUT" = "gue port 6080" ] || vsn_fail "default: $OUT" || return 1
	expect_ok vsn_dpctl gue-port 5555 || return 1
	[ "$OUT" = "gue port 5555" ] || vsn_fail "set: $OUT" || return 1
	expect_ok vsn_dpctl show || return 1
	expect_grep "gue port: 5555" || return 1
	expect_fail vsn_dpctl gue-port 0 || return 1
	expect_grep "gue-port: '0' is no UDP port (1 to 65535)" || return 1
	expect_fail vsn_dpctl gue-port 5555 6080 || return 1
	expect_ok vsn_dpctl gue-port 6080 || return 1
	[ "$OUT" = "gue port 6080" ] || vsn_fail "back: $OUT"
}

# udp_to_vip4 N: N UDP datagrams with 32 bytes of payload from the client to the IPv4 VIP's port
# 53 (nothing answers).
UDP_PAYLOAD='ipip test datagram of 32 bytes..'
udp_to_vip4() {
	local i

	for i in $(seq 1 "$1"); do
		vsn_ns "$NS_CLIENT" bash -c "printf '%s' '$UDP_PAYLOAD' >/dev/udp/$VIP4/53" ||
			return 1
	done
	sleep 0.2
}

# ipip, live: an ipip SLB is applied and shown with its egress MTU; a VIP of the other family is
# refused; without an underlay its packets are dropped; with one they leave as IP-in-IP from the
# underlay address, as the SLB counts them on its ingress (its kernel then drops them: the SLB
# side's decap is not set up here).
ipip_live() {
	local d k kind key n b n0 b0 n1 b1 len=$((14 + 20 + 8 + ${#UDP_PAYLOAD}))

	vsn_ns "$NS_SLB" nft add counter inet vsntest ipip4 &&
		vsn_ns "$NS_SLB" nft add rule inet vsntest pre ip saddr "$NODE_S4" ip daddr "$SLB4" \
			ip protocol 4 counter name ipip4 || return 1
	expect_fail vsn_dpctl apply "$VSN_STATE_DIR/mixed.yaml" --check || return 1
	echo "$OUT"
	expect_grep "mixed.yaml:5: slb 4 forwards by ipip, which carries IPv4 in IPv4 and IPv6 in IPv6: the VIP's family must be the SLB's" ||
		return 1
	expect_ok vsn_dpctl apply "$VSN_STATE_DIR/ipip.yaml" || return 1
	expect_grep "generation 3: 3 policies, 1 slbs" || return 1
	expect_ok vsn_dpctl show || return 1
	echo "$OUT"
	expect_grep "generation 3, 3 policies" &&
		expect_grep "slb 4 $SLB4 ipip up via ifindex " &&
		expect_grep "$VIP4 udp/any -> slb 4 (service 1, policy 3, on_change preserve)" || return 1
	# slb0's MTU, as the route to the SLB has none.
	grep -qE "^  slb 4 $SLB4 ipip up via ifindex [0-9]+ [0-9a-f:]{17} -> [0-9a-f:]{17} mtu 1500\$" \
		<<<"$OUT" || vsn_fail "slb 4 is not shown with mtu 1500" || return 1

	snapshot before || return 1
	udp_to_vip4 3 || return 1
	snapshot after || return 1
	d=$(delta before after reason drop_no_underlay) && [ "$d" -eq 3 ] ||
		vsn_fail "without an underlay drop_no_underlay moved by ${d:-?}, expected 3" || return 1
	d=$(delta before after policy 3) && [ "$d" -eq 0 ] ||
		vsn_fail "policy 3 moved by ${d:-?} without an underlay" || return 1

	expect_ok vsn_dpctl underlay "$NODE_S4" "$NODE_S6" || return 1
	read -r n0 b0 <<<"$(vsn_nft_count ipip4)"
	snapshot before || return 1
	udp_to_vip4 3 || return 1
	snapshot after || return 1
	read -r n1 b1 <<<"$(vsn_nft_count ipip4)"
	n=$((n1 - n0))
	b=$((b1 - b0))
	echo "the SLB saw $n IP-in-IP packets ($b bytes) from $NODE_S4"
	[ "$n" -eq 3 ] || vsn_fail "the SLB saw $n IP-in-IP packets from the underlay, expected 3" ||
		return 1
	# Each datagram, and an outer header of 20 bytes.
	[ "$b" -eq $((3 * (len - 14 + 20))) ] ||
		vsn_fail "the SLB saw $b bytes, expected $((3 * (len - 14 + 20)))" || return 1
	for k in "reason fwd_redirect" "policy 3" "slb 4" "service 1"; do
		read -r kind key <<<"$k"
		d=$(delta before after "$kind" "$key") && [ "$d" -eq 3 ] ||
			vsn_fail "$k moved by ${d:-?}, expected 3" || return 1
	done
	# Counted as they came in: whole frames, without the outer header.
	d=$(delta before after policy 3 bytes) && [ "$d" -eq $((3 * len)) ] ||
		vsn_fail "policy 3 bytes moved by ${d:-?}, expected $((3 * len))" || return 1

	expect_ok vsn_dpctl underlay --clear || return 1
	snapshot before || return 1
	udp_to_vip4 1 || return 1
	snapshot after || return 1
	d=$(delta before after reason drop_no_underlay) && [ "$d" -eq 1 ] ||
		vsn_fail "after --clear drop_no_underlay moved by ${d:-?}, expected 1"
}

node_icmp_unreachables() {
	vsn_ns "$NS_NODE" awk '$1 == "Icmp:" { if (!c) { for (i = 2; i <= NF; i++)
		if ($i == "OutDestUnreachs") c = i } else print $c }' /proc/net/snmp
}

detach_stops_forwarding() {
	local d rc u0 u1

	expect_ok vsn_dpctl detach "$IF_NODE_CLIENT" || return 1
	expect_grep "detached from $IF_NODE_CLIENT" || return 1
	expect_ok vsn_dpctl show || return 1
	if grep -q "$IF_NODE_CLIENT (ifindex" <<<"$OUT"; then
		vsn_fail "still listed: $OUT"
		return 1
	fi
	snapshot before || return 1
	u0=$(node_icmp_unreachables)
	# Without XDP the node's kernel sees the packet: it has no route to the VIP and answers
	# "unreachable" at once, so curl cannot connect (exit 7) rather than time out (28).
	vsn_curl "http://$VIP4/" 5
	rc=$?
	[ "$rc" -eq 7 ] || vsn_fail "curl exited $rc, expected 7 (could not connect)" || return 1
	u1=$(node_icmp_unreachables)
	[ "$u1" -gt "$u0" ] || vsn_fail "the node sent no ICMP unreachable ($u0 -> $u1)" || return 1
	snapshot after || return 1
	d=$(delta before after reason fwd_redirect) && [ "$d" -eq 0 ] ||
		vsn_fail "fwd_redirect moved by ${d:-?} while detached"
}

unload_removes_pins() {
	expect_ok vsn_dpctl unload || return 1
	expect_grep "unloaded $PIN_DIR" || return 1
	[ ! -e "$PIN_DIR" ] || vsn_fail "$PIN_DIR still exists: $(ls -R "$PIN_DIR")"
}

# The usage in the guide is what --help prints (trailing blanks aside).
docs_usage_current() {
	vsn_docs_usage_current vsn-dpctl "$DOC" vsn_dpctl --help
}

# Every vsn-dpctl command the guide shows is one this test ran: the docs cannot show a command that rots.
docs_commands_ran() {
	vsn_docs_commands_ran vsn-dpctl "$DOC" "$VSN_STATE_DIR/dpctl.log" 10
}

# Every YAML block in docs/dpctl.md is a policy file this test applied, byte for byte.
docs_show_applied_files() {
	local i=0 f ok

	awk -v dir="$VSN_STATE_DIR" '/^```yaml/ { on = 1; n++; next } on && /^```/ { on = 0; next }
		on { print > (dir "/doc-" n ".yaml") }' "$DOC"
	for f in "$VSN_STATE_DIR"/doc-*.yaml; do
		[ -e "$f" ] || break
		i=$((i + 1))
		ok=0
		cmp -s "$f" "$VSN_STATE_DIR/policy.yaml" && ok=1
		cmp -s "$f" "$VSN_STATE_DIR/next.yaml" && ok=1
		cmp -s "$f" "$VSN_STATE_DIR/ipip.yaml" && ok=1
		[ $ok = 1 ] || vsn_fail "yaml block $i of $DOC is not a file this test applied" ||
			return 1
	done
	[ "$i" -ge 3 ] || vsn_fail "expected the three policy files in $DOC, found $i yaml blocks"
}

main() {
	local t0=$SECONDS

	vsn_require
	vsn_bpffs_ensure || exit 1
	vsn_state_init || exit 1
	vsn_trap_cleanup
	vsn_tap_init
	vsn_topology_build "vsnt$$-" "/sys/fs/bpf/vsnt$$" || {
		echo "Bail out! cannot build the topology"
		exit 1
	}
	vsn_nginx_start && vsn_nft_counters_add || {
		echo "Bail out! cannot start nginx or the SLB counters"
		exit 1
	}
	vsn_policy_write "$VSN_STATE_DIR/policy.yaml"
	write_next_policy "$VSN_STATE_DIR/next.yaml"
	write_ipip_policy "$VSN_STATE_DIR/ipip.yaml"
	write_mixed_policy "$VSN_STATE_DIR/mixed.yaml"
	vsn_note "topology $NS_CLIENT / $NS_NODE / $NS_SLB, pin dir $PIN_DIR, ready in $((SECONDS - t0)) s"

	vsn_tap load_with_capacity
	vsn_tap attach_auto
	vsn_tap apply_check_changes_nothing
	vsn_tap apply_policy
	vsn_tap show_resolved
	vsn_tap curl_vip4
	vsn_tap curl_vip6
	vsn_tap counters_vip4_exact
	vsn_tap counters_vip6_exact
	vsn_tap counters_text_matches_json
	vsn_tap no_policy_port_dropped
	vsn_tap non_vip_passes
	vsn_tap slb_down_drops
	vsn_tap slb_up_restores
	vsn_tap connection_table
	vsn_tap stale_generation_refused
	vsn_tap refused_apply_changes_nothing
	vsn_tap load_other_capacity_refused
	vsn_tap apply_defaults
	vsn_tap unresolved_drops_no_nexthop
	vsn_tap resolve_watch_follows_neighbour
	vsn_tap underlay_commands
	vsn_tap gue_port_commands
	vsn_tap ipip_live
	vsn_tap detach_stops_forwarding
	vsn_tap unload_removes_pins
	vsn_tap docs_usage_current
	vsn_tap docs_commands_ran
	vsn_tap docs_show_applied_files
	vsn_note "took $((SECONDS - t0)) s"
	vsn_tap_done
}

main "$@"

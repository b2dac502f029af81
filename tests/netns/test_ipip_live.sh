#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Live ipip and gue forwarding: real TCP from the client namespace to nginx on an SLB host, through
# the node's XDP forwarder (IPv4-in-IPv4, IPv6-in-IPv6; then the same in UDP and GUE) and the SLB
# host's vsn decap program, set up with vsn-slb. Topology: tests/netns/lib.sh, with a node-to-SLB
# underlay MTU of 1600 (room for the outer headers, as real underlays have). The gue part also
# checks the outer UDP checksums the node computes over IPv6 on the wire: with GUE off on the SLB,
# its kernel verifies them. Root only (exit 77 otherwise). TAP lines, closing with
# "N passed, M failed".
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CURLS=5
UNDERLAY_MTU=1600
SINK_PORT=9000
OUT=

expect_ok() {
	OUT=$("$@" 2>&1) || vsn_fail "failed ($?): $* -> $OUT"
}

expect_grep() {
	grep -qF -- "$1" <<<"$OUT" || vsn_fail "expected '$1' in: $OUT"
}

expect_page() {
	expect_ok vsn_curl "$1" || return 1
	[ "$OUT" = "$SLB_BODY" ] || vsn_fail "$1 answered '$OUT', not '$SLB_BODY'"
}

underlay_mtu() { # MTU: on both ends of the node-to-SLB link
	vsn_ns "$NS_NODE" ip link set dev "$IF_NODE_SLB" mtu "$1" &&
		vsn_ns "$NS_SLB" ip link set dev eth0 mtu "$1"
}

# write_policy FILE FORWARD FIRST_ID: the SLB host as two SLBs forwarding by FORWARD (ipip or gue),
# ids FIRST_ID (IPv4) and FIRST_ID + 1 (IPv6); the VIPs' tcp/80 and the sink's port go there, and
# the IPv6 VIP's UDP.
write_policy() {
	cat >"$1" <<EOF
slbs:
  - {id: $3, address: $SLB4, forward: $2}
  - {id: $(($3 + 1)), address: "$SLB6", forward: $2}
policies:
  - {id: 1, service: 1, vip: $VIP4, proto: tcp, port: 80, slb: $3}
  - {id: 2, service: 2, vip: "$VIP6", proto: tcp, port: 80, slb: $(($3 + 1))}
  - {id: 3, service: 1, vip: $VIP4, proto: tcp, port: $SINK_PORT, slb: $3}
  - {id: 4, service: 2, vip: "$VIP6", proto: tcp, port: $SINK_PORT, slb: $(($3 + 1))}
  - {id: 5, service: 2, vip: "$VIP6", proto: udp, port: any, slb: $(($3 + 1))}
EOF
}

# upload_to_sink NAME CONNECT: send the upload file through the VIP to a sink on the SLB that
# keeps every byte (socat; nginx would answer before reading a body); 0 if all arrived.
upload_to_sink() {
	local name=$1 connect=$2 pid got

	vsn_ns "$NS_SLB" socat -u TCP6-LISTEN:"$SINK_PORT",reuseaddr,ipv6only=0 \
		OPEN:"$VSN_STATE_DIR/$name.recv",creat,trunc &
	pid=$!
	vsn_register pid "$pid" "$NS_SLB"
	retry_listen || return 1
	vsn_ns "$NS_CLIENT" timeout 20 socat -u OPEN:"$VSN_STATE_DIR/upload" "$connect" ||
		vsn_fail "$name: the upload did not go through" || return 1
	# The sink ends when the connection does; give the last segments a moment.
	timeout 20 tail --pid="$pid" -f /dev/null
	got=$(stat -c %s "$VSN_STATE_DIR/$name.recv" 2>/dev/null)
	[ "$got" = "$(stat -c %s "$VSN_STATE_DIR/upload")" ] ||
		vsn_fail "$name: ${got:-0} bytes of $(stat -c %s "$VSN_STATE_DIR/upload") arrived"
}

retry_listen() {
	local i

	for i in $(seq 1 50); do
		vsn_ns "$NS_SLB" ss -Hltn "sport = :$SINK_PORT" | grep -q . && return 0
		sleep 0.05
	done
	vsn_fail "the sink does not listen"
}

# Forwarder and decap counters, in one snapshot file each.
snapshot() {
	vsn_dpctl counters --json >"$VSN_STATE_DIR/$1.fwd" &&
		vsn_slb show --json >"$VSN_STATE_DIR/$1.slb"
}

fwd_delta() { vsn_cnt_delta "$VSN_STATE_DIR/$1.fwd" "$VSN_STATE_DIR/$2.fwd" "$3" "$4"; }

decap_delta() {
	local a b

	a=$(vsn_decap_cnt "$VSN_STATE_DIR/$1.slb" "$3") || return 1
	b=$(vsn_decap_cnt "$VSN_STATE_DIR/$2.slb" "$3") || return 1
	echo $((b - a))
}

# ---- the checks ----

slb_host_setup() {
	expect_ok vsn_slb setup --dev eth0 --node "$NODE_S4" --node "$NODE_S6" --vip "$VIP4" \
		--vip "$VIP6"
}

node_setup() {
	expect_ok vsn_dpctl attach "$IF_NODE_CLIENT" || return 1
	expect_ok vsn_dpctl underlay "$NODE_S4" "$NODE_S6" || return 1
	expect_grep "underlay ipv4 $NODE_S4, ipv6 $NODE_S6" || return 1
	write_policy "$VSN_STATE_DIR/ipip.yaml" ipip 1
	expect_ok vsn_dpctl apply "$VSN_STATE_DIR/ipip.yaml" || return 1
	expect_ok vsn_dpctl show || return 1
	expect_grep "slb 1 $SLB4 ipip up via ifindex " && expect_grep "mtu $UNDERLAY_MTU" &&
		expect_grep "slb 2 $SLB6 ipip up via ifindex "
}

# Every client packet the node encapsulated was decapsulated by the SLB host, and answered.
curl_through_ipip() { # URL FAMILY(v4|v6) POLICY [gue]
	local i fwd dec

	snapshot before || return 1
	for i in $(seq 1 "$CURLS"); do
		expect_page "$1" || return 1
	done
	snapshot after || return 1
	fwd=$(fwd_delta before after policy "$3") || return 1
	dec=$(decap_delta before after "decap_${4:+gue_}$2") || return 1
	vsn_note "$CURLS requests to $1: $fwd packets encapsulated, $dec decapsulated"
	[ "$fwd" -ge $((CURLS * 4)) ] || vsn_fail "only $fwd packets forwarded" || return 1
	[ "$fwd" -eq "$dec" ] || vsn_fail "forwarded $fwd, decapsulated $dec"
}

curl_vip4_ipip() { curl_through_ipip "http://$VIP4/" v4 1; }
curl_vip6_ipip() { curl_through_ipip "http://[$VIP6]/" v6 2; }

# Full-size client packets (1500 bytes) fit the underlay once encapsulated (1520 / 1540; by gue
# 1532 / 1552): 300 kB uploads cross whole, some 200 full-size segments each, none passed as too
# big.
upload_full_size_packets() {
	local url code n

	[ -e "$VSN_STATE_DIR/upload" ] || head -c 300000 /dev/zero >"$VSN_STATE_DIR/upload"
	snapshot before || return 1
	for url in "http://$VIP4/" "http://[$VIP6]/"; do
		code=$(vsn_ns "$NS_CLIENT" curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
			--data-binary @"$VSN_STATE_DIR/upload" "$url") ||
			vsn_fail "upload to $url failed" || return 1
		[ "$code" -ge 200 ] && [ "$code" -lt 500 ] ||
			vsn_fail "upload to $url: HTTP $code" || return 1
	done
	snapshot after || return 1
	for n in 1 2; do
		[ "$(fwd_delta before after policy $n)" -ge 200 ] ||
			vsn_fail "policy $n forwarded $(fwd_delta before after policy $n) packets" ||
			return 1
	done
	[ "$(fwd_delta before after reason pass_too_big)" -eq 0 ] ||
		vsn_fail "packets passed as too big"
}

# Path MTU discovery through the encapsulation: with an underlay MTU of 1500, the client's
# full-size packets no longer fit once encapsulated. The node answers each with fragmentation
# needed (IPv4, DF set by TCP) or packet too big (IPv6) carrying the MTU less the outer headers
# (ipip: 20 / 40, gue: 32 / 52); the client's TCP lowers its segment size and every byte of the
# uploads arrives, in both families.
pmtu_discovery() { # FORWARD SLB MTU4 MTU6: the running set's method and IPv4 SLB, the MTUs to learn
	local replies passed

	underlay_mtu 1500 || return 1
	expect_ok vsn_dpctl resolve || return 1
	expect_ok vsn_dpctl show || return 1
	expect_grep "slb $2 $SLB4 $1 up via ifindex " && expect_grep "mtu 1500" || return 1
	# Forget what earlier uploads learnt about the path.
	vsn_ns "$NS_CLIENT" ip route flush cache
	vsn_ns "$NS_CLIENT" ip -6 route flush cache
	snapshot before || return 1
	upload_to_sink v4 "TCP4:$VIP4:$SINK_PORT" || return 1
	upload_to_sink v6 "TCP6:[$VIP6]:$SINK_PORT" || return 1
	snapshot after || return 1
	replies=$(fwd_delta before after reason reply_too_big) || return 1
	passed=$(fwd_delta before after reason pass_too_big) || return 1
	vsn_note "2 uploads of 300 kB by $1 through a 1500-byte underlay: $replies too-big replies sent"
	[ "$replies" -ge 2 ] || vsn_fail "only $replies too-big replies" || return 1
	[ "$passed" -eq 0 ] || vsn_fail "$passed packets passed as too big" || return 1
	# The client learnt the path's MTU from the replies.
	expect_ok vsn_ns "$NS_CLIENT" ip route get "$VIP4" || return 1
	expect_grep "mtu $3" || return 1
	expect_ok vsn_ns "$NS_CLIENT" ip -6 route get "$VIP6" || return 1
	expect_grep "mtu $4" || return 1
	underlay_mtu "$UNDERLAY_MTU" && expect_ok vsn_dpctl resolve && expect_page "http://$VIP4/"
}

pmtu_discovery_ipip() { pmtu_discovery ipip 1 1480 1460; }
pmtu_discovery_gue() { pmtu_discovery gue 3 1468 1448; }

# The SLB host refuses encapsulated packets from a node it does not allow.
unknown_node_refused() {
	local dropped

	expect_ok vsn_slb disallow "$NODE_S4" || return 1
	snapshot before || return 1
	vsn_ns "$NS_CLIENT" curl -sS -o /dev/null --max-time 2 "http://$VIP4/" >/dev/null 2>&1 &&
		vsn_fail "answered through a refused node" && return 1
	snapshot after || return 1
	dropped=$(decap_delta before after drop_not_allowed) || return 1
	[ "$dropped" -gt 0 ] || vsn_fail "nothing counted as drop_not_allowed" || return 1
	expect_ok vsn_slb allow "$NODE_S4" && expect_page "http://$VIP4/"
}

# gue: the node forwards to the same host as gue SLBs (the flows of the ipip part forgotten, so
# every connection is picked anew, and the path MTU the client learnt too); the SLB host takes
# GUE on 6080 as set up.
gue_node_setup() {
	write_policy "$VSN_STATE_DIR/gue.yaml" gue 3
	expect_ok vsn_dpctl apply "$VSN_STATE_DIR/gue.yaml" || return 1
	expect_ok vsn_dpctl flows --clear || return 1
	vsn_ns "$NS_CLIENT" ip route flush cache
	vsn_ns "$NS_CLIENT" ip -6 route flush cache
	expect_ok vsn_dpctl show || return 1
	expect_grep "slb 3 $SLB4 gue up via ifindex " && expect_grep "slb 4 $SLB6 gue up via ifindex " &&
		expect_grep "gue port: 6080"
}

curl_vip4_gue() { curl_through_ipip "http://$VIP4/" v4 1 gue; }
curl_vip6_gue() { curl_through_ipip "http://[$VIP6]/" v6 2 gue; }

slb_udp6() { # the SLB's Udp6 counter NAME (/proc/net/snmp6)
	vsn_ns "$NS_SLB" awk -v k="$1" '$1 == k { print $2 }' /proc/net/snmp6
}

# The outer UDP checksum over IPv6 holds on the wire, for datagrams of every size up to a full
# packet: with GUE off, the SLB's decap program passes the node's packets untouched and the SLB's
# kernel checks their checksums before it finds no socket on 6080 (Udp6NoPorts), or counts a
# checksum error (Udp6InCsumErrors).
gue_checksums_on_the_wire() {
	local n=0 len no0 no1 err0 err1

	expect_ok vsn_slb gue-port off || return 1
	no0=$(slb_udp6 Udp6NoPorts) && err0=$(slb_udp6 Udp6InCsumErrors) || return 1
	for len in 1 2 3 100 511 512 513 1000 1021 1452; do
		vsn_ns "$NS_CLIENT" bash -c "head -c $len /dev/urandom >/dev/udp/$VIP6/9" || return 1
		n=$((n + 1))
	done
	sleep 0.3
	no1=$(slb_udp6 Udp6NoPorts) && err1=$(slb_udp6 Udp6InCsumErrors) || return 1
	expect_ok vsn_slb gue-port 6080 || return 1
	vsn_note "$n datagrams in GUE over IPv6: $((no1 - no0)) checked and refused for want of a socket, $((err1 - err0)) checksum errors"
	[ $((err1 - err0)) -eq 0 ] || vsn_fail "$((err1 - err0)) outer UDP checksum errors" || return 1
	[ $((no1 - no0)) -ge "$n" ] || vsn_fail "only $((no1 - no0)) of $n reached the SLB's UDP"
}

# Another GUE port on both sides works at once; on the node only, nothing reaches nginx.
gue_port_on_both_sides() {
	local d

	expect_ok vsn_dpctl gue-port 5555 || return 1
	snapshot before || return 1
	vsn_ns "$NS_CLIENT" curl -sS -o /dev/null --max-time 2 "http://$VIP4/" >/dev/null 2>&1 &&
		vsn_fail "answered with the SLB on another port" && return 1
	snapshot after || return 1
	d=$(decap_delta before after decap_gue_v4) && [ "$d" -eq 0 ] ||
		vsn_fail "GUE to 5555 decapsulated ($d) while the SLB takes 6080" || return 1
	d=$(decap_delta before after pass_not_encap) && [ "$d" -gt 0 ] ||
		vsn_fail "GUE to 5555 was not passed untouched on the SLB" || return 1
	expect_ok vsn_slb gue-port 5555 || return 1
	curl_through_ipip "http://$VIP4/" v4 1 gue || return 1
	expect_ok vsn_dpctl gue-port 6080 && expect_ok vsn_slb gue-port 6080
}

slb_host_teardown() {
	expect_ok vsn_slb teardown --dev eth0 --vip "$VIP4" --vip "$VIP6" || return 1
	[ ! -e "$SLB_PIN_DIR" ] || vsn_fail "$SLB_PIN_DIR is still there"
}

main() {
	local t0=$SECONDS

	vsn_require
	vsn_built "$VSN_SLB"
	vsn_bpffs_ensure || exit 1
	vsn_state_init || exit 1
	vsn_trap_cleanup
	vsn_tap_init
	: >"$VSN_STATE_DIR/slb.log"
	vsn_topology_build "vsni$$-" "/sys/fs/bpf/vsni$$" || {
		echo "Bail out! cannot build the topology"
		exit 1
	}
	SLB_PIN_DIR=/sys/fs/bpf/vsni$$-decap
	vsn_register pindir "$SLB_PIN_DIR"
	underlay_mtu "$UNDERLAY_MTU" && vsn_nginx_start || {
		echo "Bail out! cannot set the underlay MTU or start nginx"
		exit 1
	}
	vsn_note "topology $NS_CLIENT / $NS_NODE / $NS_SLB ready in $((SECONDS - t0)) s"

	vsn_tap slb_host_setup
	vsn_tap node_setup
	vsn_tap curl_vip4_ipip
	vsn_tap curl_vip6_ipip
	vsn_tap upload_full_size_packets
	vsn_tap pmtu_discovery_ipip
	vsn_tap unknown_node_refused
	vsn_tap gue_node_setup
	vsn_tap curl_vip4_gue
	vsn_tap curl_vip6_gue
	vsn_tap upload_full_size_packets
	vsn_tap gue_checksums_on_the_wire
	vsn_tap pmtu_discovery_gue
	vsn_tap unknown_node_refused
	vsn_tap gue_port_on_both_sides
	vsn_tap slb_host_teardown
	vsn_note "took $((SECONDS - t0)) s"
	vsn_tap_done
}

main "$@"

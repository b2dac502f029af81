#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The SLB host side of ipip and gue forwarding, without the forwarder: vsn-slb sets up an SLB
# namespace (decap program on eth0, nodes allowed, VIPs on lo, ARP sysctls), then a node namespace
# sends real IP-in-IP packets, built here and sent through a raw socket (socat), and GUE packets
# (the GUE header and the same inner packets, sent through a UDP socket to port 6080), whose inner
# UDP datagrams to the VIPs must reach a socket in the SLB namespace; the same packets from a source
# not allowed must be dropped and counted. Root only (exit 77 otherwise); needs socat. Prints TAP
# lines and closes with "N passed, M failed". Also runs every vsn-slb command docs/slb-host.md shows.
#
#  +------------------------------+      +-------------------------------------+
#  | ns <prefix>node              |      | ns <prefix>slb                      |
#  |                              | veth |                                     |
#  | slb0 10.100.2.1/24           |------| eth0 10.100.2.2/24   [XDP vsn_decap] |
#  |      2001:db8:2::1/64        |      |      2001:db8:2::2/64               |
#  |      10.100.2.9, 2001:db8:2::9      | lo   192.0.2.80/32, 2001:db8:100::80 |
#  |      (sources not allowed)   |      |      /128 (added by vsn-slb setup)  |
#  |                              |      | socat udp :9994 (v4), :9996 (v6)    |
#  +------------------------------+      +-------------------------------------+
#
#  node -> slb: outer 10.100.2.1 -> 10.100.2.2 (or the IPv6 pair), protocol 4 or 41 (or UDP to
#               6080 and GUE), around client 10.100.1.2 / 2001:db8:1::2 -> VIP udp; the decap
#               program strips the outer headers and the SLB's kernel delivers the datagram to socat.
#
#   VSN_SLB=build/san/vsn-slb tests/netns/test_slb_setup.sh   runs it with the sanitizer build
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOC=$VSN_ROOT/docs/slb-host.md
STRANGER4=10.100.2.9
STRANGER6=2001:db8:2::9
PORT4=9994
PORT6=9996
SETUP_ARGS=(--dev eth0 --node "$NODE_S4" --node "$NODE_S6" --vip "$VIP4" --vip "$VIP6")
SEQ=0 # numbers the datagrams, so each check waits for its own

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

expect_line() {
	grep -qxF -- "$1" <<<"$OUT" || vsn_fail "expected the line '$1' in: $OUT"
}

sysctl_slb() {
	vsn_ns "$NS_SLB" cat "/proc/sys/net/ipv4/conf/$1/$2"
}

# Nothing of vsn-slb on the SLB: no pins, no XDP, no VIP on lo, ARP sysctls as the namespace began.
slb_pristine() {
	local f

	[ ! -e "$SLB_PIN_DIR" ] || vsn_fail "$SLB_PIN_DIR exists: $(ls -R "$SLB_PIN_DIR")" ||
		return 1
	! vsn_ns "$NS_SLB" ip link show dev eth0 | grep -q xdp ||
		vsn_fail "an XDP program is on eth0" || return 1
	! vsn_ns "$NS_SLB" ip addr show dev lo | grep -qE "$VIP4|$VIP6" ||
		vsn_fail "a VIP is on lo: $(vsn_ns "$NS_SLB" ip addr show dev lo)" || return 1
	for f in all/arp_ignore all/arp_announce eth0/arp_ignore eth0/arp_announce; do
		[ "$(sysctl_slb "${f%/*}" "${f#*/}")" = 0 ] ||
			vsn_fail "$f is $(sysctl_slb "${f%/*}" "${f#*/}"), not 0" || return 1
	done
}

build_topology() {
	local p=$1 ns

	NS_NODE=${p}node
	NS_SLB=${p}slb
	SLB_PIN_DIR=$2
	for ns in "$NS_NODE" "$NS_SLB"; do
		vsn_register netns "$ns"
		ip netns add "$ns" || return 1
		vsn_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 || return 1
		vsn_ns "$ns" ip link set dev lo up || return 1
	done
	vsn_register pindir "$SLB_PIN_DIR"
	ip link add name "$IF_NODE_SLB" netns "$NS_NODE" type veth peer name eth0 \
		netns "$NS_SLB" || return 1
	vsn_ns "$NS_NODE" ip addr add "$NODE_S4/24" dev "$IF_NODE_SLB" &&
		vsn_ns "$NS_NODE" ip addr add "$NODE_S6/64" dev "$IF_NODE_SLB" nodad &&
		vsn_ns "$NS_NODE" ip addr add "$STRANGER4/24" dev "$IF_NODE_SLB" &&
		vsn_ns "$NS_NODE" ip addr add "$STRANGER6/64" dev "$IF_NODE_SLB" nodad &&
		vsn_ns "$NS_SLB" ip addr add "$SLB4/24" dev eth0 &&
		vsn_ns "$NS_SLB" ip addr add "$SLB6/64" dev eth0 nodad || return 1
	vsn_ns "$NS_NODE" ethtool -K "$IF_NODE_SLB" tx off >/dev/null &&
		vsn_ns "$NS_SLB" ethtool -K eth0 tx off >/dev/null || return 1
	vsn_ns "$NS_NODE" ip link set dev "$IF_NODE_SLB" up &&
		vsn_ns "$NS_SLB" ip link set dev eth0 up || return 1
	# The clients' addresses (inner sources) are routed back through the node, as in production.
	vsn_ns "$NS_SLB" ip route add default via "$NODE_S4" dev eth0 &&
		vsn_ns "$NS_SLB" ip -6 route add default via "$NODE_S6" dev eth0 || return 1
	for ns in "$SLB4" "$SLB6"; do
		vsn_ns "$NS_NODE" ping -c 1 -W 1 -w 10 "$ns" >/dev/null || {
			echo "no answer from $ns" >&2
			return 1
		}
	done
}

# UDP listeners on the SLB: every datagram to PORT4 / PORT6 is appended to recv4 / recv6.
start_listeners() {
	local v port

	for v in 4 6; do
		port=PORT$v
		: >"$VSN_STATE_DIR/recv$v"
		nsenter --net="/run/netns/$NS_SLB" socat -u "UDP$v-RECV:${!port}" \
			"OPEN:$VSN_STATE_DIR/recv$v,append" 2>"$VSN_STATE_DIR/socat$v.log" &
		vsn_register pid "$!" "$NS_SLB"
	done
	for v in 1 2 3 4 5 6 7 8 9 10; do
		[ "$(vsn_ns "$NS_SLB" ss -Hlun "( sport = :$PORT4 or sport = :$PORT6 )" | wc -l)" -ge 2 ] &&
			return 0
		sleep 0.1
	done
	return 1
}

snapshot() {
	vsn_slb show --json >"$VSN_STATE_DIR/$1.json"
}

# delta BEFORE AFTER NAME [packets|bytes]
delta() {
	local a b

	a=$(vsn_decap_cnt "$VSN_STATE_DIR/$1.json" "$3" "${4:-packets}") &&
		b=$(vsn_decap_cnt "$VSN_STATE_DIR/$2.json" "$3" "${4:-packets}") || return 1
	echo $((b - a))
}

# send OUTER_SRC OUTER_DST INNER_FAMILY [GUE_PORT]: one IP-in-IP packet from the node to the SLB
# (with GUE_PORT: GUE to that UDP port), its inner datagram from a client to the VIP of
# INNER_FAMILY (4 or 6), carrying a line of its own. Sets MSG to that line and FRAME_LEN to the
# frame's length on the wire (what the counters count).
MSG='' FRAME_LEN=0
send() {
	local src=$1 dst=$2 v=$3 gue=${4:-} hex outer=20 ov=4

	[[ $dst == *:* ]] && outer=40 ov=6
	SEQ=$((SEQ + 1))
	MSG="${v}in$ov${gue:+ gue} #$SEQ from $src"
	if [ "$v" = 4 ]; then
		hex=$(vsn_pkt_udp "$CLIENT4" "$VIP4" 40000 "$PORT4" "$MSG"$'\n')
	else
		hex=$(vsn_pkt_udp "$CLIENT6" "$VIP6" 40000 "$PORT6" "$MSG"$'\n')
	fi
	[ -n "$gue" ] && outer=$((outer + 8 + 4))
	FRAME_LEN=$((14 + outer + ${#hex} / 2))
	vsn_ipip_send "$NS_NODE" "$src" "$dst" "$hex" "$gue"
}

# received V: did the SLB's socket on the family-V port get $MSG? Waits up to 2 s for it.
received() {
	local i

	for i in $(seq 1 20); do
		grep -qxF -- "$MSG" "$VSN_STATE_DIR/recv$1" && return 0
		sleep 0.1
	done
	return 1
}

# not_received V: $MSG did not arrive within half a second.
not_received() {
	sleep 0.5
	! grep -qxF -- "$MSG" "$VSN_STATE_DIR/recv$1"
}

# deliver NAME OUTER_SRC OUTER_DST V [GUE_PORT]: the packet arrives, counted once under NAME, with
# its bytes.
deliver() {
	local name=$1 d

	snapshot before || return 1
	send "$2" "$3" "$4" "${5:-}" || vsn_fail "could not send" || return 1
	received "$4" || vsn_fail "'$MSG' did not reach the SLB's socket" || return 1
	snapshot after || return 1
	d=$(delta before after "$name") && [ "$d" -eq 1 ] ||
		vsn_fail "$name moved by ${d:-?}, expected 1" || return 1
	d=$(delta before after "$name" bytes) && [ "$d" -eq "$FRAME_LEN" ] ||
		vsn_fail "$name moved by ${d:-?} bytes, expected $FRAME_LEN" || return 1
	d=$(delta before after drop_not_allowed) && [ "$d" -eq 0 ] ||
		vsn_fail "drop_not_allowed moved by ${d:-?}"
}

# refuse OUTER_SRC OUTER_DST V [GUE_PORT [NAME]]: the packet does not arrive, and is counted once
# under NAME: drop_not_allowed (the default), or pass_not_encap, which the host's own traffic
# (neighbour discovery, ...) may move too.
refuse() {
	local name=${5:-drop_not_allowed} d

	snapshot before || return 1
	send "$1" "$2" "$3" "${4:-}" || vsn_fail "could not send" || return 1
	not_received "$3" || vsn_fail "'$MSG' from $1 reached the SLB's socket" || return 1
	snapshot after || return 1
	d=$(delta before after "$name") && { [ "$d" -eq 1 ] ||
		{ [ "$name" = pass_not_encap ] && [ "$d" -ge 1 ]; }; } ||
		vsn_fail "$name moved by ${d:-?}, expected 1" || return 1
	for name in "decap_v$3" "decap_gue_v$3"; do
		d=$(delta before after "$name") && [ "$d" -eq 0 ] ||
			vsn_fail "$name moved by ${d:-?}" || return 1
	done
}

# ---- the checks, in order; each is one TAP line ----

setup_refuses_bad_arguments() {
	expect_fail vsn_slb setup --dev eth0 --node "$NODE_S4" --vip 192.0.2.300 || return 1
	expect_grep "VIP '192.0.2.300' is no IPv4 or IPv6 address" || return 1
	expect_fail vsn_slb setup --dev eth0 --node 127.0.0.1 --vip "$VIP4" --vip ff02::1 || return 1
	expect_grep "node 127.0.0.1 is a loopback address" &&
		expect_grep "VIP ff02::1 is a multicast address" || return 1
	expect_fail vsn_slb setup --dev eth0 --node "::ffff:$NODE_S4" --vip "$VIP4" || return 1
	expect_grep "write the IPv4 address as a.b.c.d" || return 1
	expect_fail vsn_slb setup --dev eth0 --vip "$VIP4" || return 1
	expect_grep "which nodes?" || return 1
	expect_fail vsn_slb setup --dev eth9 --node "$NODE_S4" --vip "$VIP4" || return 1
	expect_grep "no interface eth9 here" || return 1
	expect_fail vsn_slb setup --dev eth0 --node "$NODE_S4" --vip "$VIP4" --mode fast || return 1
	expect_grep "--mode is auto, native or generic" || return 1
	expect_fail vsn_slb allow "$NODE_S4" || return 1
	expect_grep "the decap program is not loaded under $SLB_PIN_DIR (run 'vsn-slb setup')" ||
		return 1
	slb_pristine
}

# Another XDP program holds eth0 (a forwarder, attached with vsn-dpctl): setup fails at the attach
# and undoes the sysctls, the load and the allow-list it had done by then.
setup_undone_when_attach_fails() {
	local other=$SLB_PIN_DIR-other

	vsn_register pindir "$other"
	expect_ok vsn_ns "$NS_SLB" "$VSN_DPCTL" --pin-dir "$other" attach eth0 || return 1
	expect_fail vsn_slb setup "${SETUP_ARGS[@]}" || return 1
	echo "$OUT"
	expect_grep "eth0 has another XDP program attached" &&
		expect_grep "undoing what this setup changed" &&
		expect_grep "net.ipv4.conf.all.arp_ignore back to 0: done" || return 1
	expect_ok vsn_ns "$NS_SLB" "$VSN_DPCTL" --pin-dir "$other" unload || return 1
	slb_pristine
}

setup_applies() {
	expect_ok vsn_slb setup "${SETUP_ARGS[@]}" || return 1
	echo "$OUT"
	expect_line "loaded the decap program under $SLB_PIN_DIR" &&
		expect_line "net.ipv4.conf.all.arp_ignore = 1 (was 0)" &&
		expect_line "net.ipv4.conf.all.arp_announce = 2 (was 0)" &&
		expect_line "net.ipv4.conf.eth0.arp_ignore = 1 (was 0)" &&
		expect_line "net.ipv4.conf.eth0.arp_announce = 2 (was 0)" &&
		expect_line "allowed node $NODE_S4" &&
		expect_line "allowed node $NODE_S6" &&
		expect_line "added VIP $VIP4/32 to lo" &&
		expect_line "added VIP $VIP6/128 to lo (nodad)" &&
		expect_line "ready: IP-in-IP and GUE (UDP port 6080) from 2 nodes to 2 VIPs is decapsulated on eth0" ||
		return 1
	grep -qE "^attached to eth0 \((native|generic)\)$" <<<"$OUT" ||
		vsn_fail "no attach line in: $OUT" || return 1
	vsn_note "setup: $(grep '^attached' <<<"$OUT")"
}

setup_twice_changes_nothing() {
	expect_ok vsn_slb setup "${SETUP_ARGS[@]}" || return 1
	echo "$OUT"
	expect_line "the decap program is loaded under $SLB_PIN_DIR already" &&
		expect_line "net.ipv4.conf.eth0.arp_announce = 2 (unchanged)" &&
		expect_line "node $NODE_S6 already allowed" &&
		expect_line "already attached to eth0" &&
		expect_line "VIP $VIP4 already on lo (/32)" &&
		expect_line "VIP $VIP6 already on lo (/128)" || return 1
	if grep -qE "^(allowed|added|attached|loaded)|was 0" <<<"$OUT"; then
		vsn_fail "the second setup changed something"
		return 1
	fi
}

vips_on_lo() {
	expect_ok vsn_ns "$NS_SLB" ip addr show dev lo || return 1
	expect_grep "inet $VIP4/32 scope global lo" &&
		expect_grep "inet6 $VIP6/128 scope global nodad"
}

arp_sysctls_set() {
	local f want

	for f in all/arp_ignore/1 all/arp_announce/2 eth0/arp_ignore/1 eth0/arp_announce/2; do
		want=${f##*/}
		f=${f%/*}
		[ "$(sysctl_slb "${f%/*}" "${f#*/}")" = "$want" ] ||
			vsn_fail "$f is $(sysctl_slb "${f%/*}" "${f#*/}"), not $want" || return 1
	done
}

program_attached() {
	expect_ok vsn_ns "$NS_SLB" ip link show dev eth0 || return 1
	expect_grep "name vsn_decap" || return 1
	[ -e "$SLB_PIN_DIR/links/eth0" ] && [ -e "$SLB_PIN_DIR/prog" ] &&
		[ -e "$SLB_PIN_DIR/maps/vsn_decap_meta" ] ||
		vsn_fail "pins missing: $(ls -R "$SLB_PIN_DIR")"
}

show_lists_everything() {
	local line

	expect_ok vsn_slb show || return 1
	echo "$OUT"
	for line in "decap program: loaded under $SLB_PIN_DIR" "GUE port: 6080" "interfaces:" \
		"allowed nodes:" \
		"  $NODE_S4" "  $NODE_S6" "VIPs on lo:" "  $VIP4/32" "  $VIP6/128" "ARP sysctls:" \
		"  net.ipv4.conf.all.arp_ignore = 1" "  net.ipv4.conf.eth0.arp_announce = 2" \
		"counters:"; do
		expect_line "$line" || return 1
	done
	grep -qE "^  eth0 \(ifindex [0-9]+\)$" <<<"$OUT" || vsn_fail "eth0 not listed" || return 1
	grep -qE "^  drop_not_allowed +[0-9]+ pkts +[0-9]+ bytes$" <<<"$OUT" ||
		vsn_fail "no drop_not_allowed counter" || return 1
	expect_ok vsn_slb show --json || return 1
	echo "$OUT"
	expect_line "{\"kind\":\"program\",\"pin_dir\":\"$SLB_PIN_DIR\",\"loaded\":true}" &&
		expect_line '{"kind":"gue","port":6080}' &&
		expect_line "{\"kind\":\"node\",\"address\":\"$NODE_S6\"}" &&
		expect_line "{\"kind\":\"vip\",\"address\":\"$VIP4\",\"prefixlen\":32}" &&
		expect_line "{\"kind\":\"sysctl\",\"name\":\"net.ipv4.conf.eth0.arp_ignore\",\"value\":1}" ||
		return 1
	grep -qE '^\{"kind":"interface","name":"eth0","ifindex":[0-9]+\}$' <<<"$OUT" ||
		vsn_fail "no eth0 interface line" || return 1
	for line in decap_v4 decap_v6 decap_gue_v4 decap_gue_v6 pass_not_encap pass_malformed \
		pass_gue_other pass_fragment drop_not_allowed drop_error; do
		grep -qE "^\{\"kind\":\"decap\",\"name\":\"$line\",\"packets\":[0-9]+,\"bytes\":[0-9]+\}$" <<<"$OUT" ||
			vsn_fail "no JSON line for $line" || return 1
	done
	# Every line is one JSON object with a kind.
	! grep -vqE '^\{"kind":"[a-z]+",.*\}$' <<<"$OUT" || vsn_fail "a line is no JSON object"
}

decap_4in4_delivered() {
	deliver decap_v4 "$NODE_S4" "$SLB4" 4
}

decap_6in6_delivered() {
	deliver decap_v6 "$NODE_S6" "$SLB6" 6
}

decap_6in4_delivered() {
	deliver decap_v6 "$NODE_S4" "$SLB4" 6
}

decap_4in6_delivered() {
	deliver decap_v4 "$NODE_S6" "$SLB6" 4
}

decap_gue_4in4_delivered() {
	deliver decap_gue_v4 "$NODE_S4" "$SLB4" 4 6080
}

decap_gue_6in6_delivered() {
	deliver decap_gue_v6 "$NODE_S6" "$SLB6" 6 6080
}

decap_gue_4in6_delivered() {
	deliver decap_gue_v4 "$NODE_S6" "$SLB6" 4 6080
}

gue_stranger_dropped() {
	refuse "$STRANGER4" "$SLB4" 4 6080 && refuse "$STRANGER6" "$SLB6" 6 6080
}

# gue-port: the commands docs/slb-host.md shows, and what they do to GUE on the wire.
gue_port_commands() {
	expect_ok vsn_slb gue-port || return 1
	expect_line "GUE is taken from UDP port 6080" || return 1
	expect_ok vsn_slb gue-port 5555 || return 1
	expect_line "GUE is taken from UDP port 5555" || return 1
	refuse "$NODE_S4" "$SLB4" 4 6080 pass_not_encap || return 1
	deliver decap_gue_v4 "$NODE_S4" "$SLB4" 4 5555 || return 1
	expect_ok vsn_slb gue-port off || return 1
	expect_line "GUE is not taken (off)" || return 1
	refuse "$NODE_S6" "$SLB6" 6 5555 pass_not_encap || return 1
	deliver decap_v6 "$NODE_S6" "$SLB6" 6 || return 1
	expect_ok vsn_slb show --json || return 1
	expect_line '{"kind":"gue","port":0}' || return 1
	expect_ok vsn_slb gue-port 6080 || return 1
	expect_line "GUE is taken from UDP port 6080" || return 1
	expect_fail vsn_slb gue-port 0 || return 1
	expect_grep "gue-port: '0' is no UDP port (1 to 65535, or off)" || return 1
	expect_fail vsn_slb gue-port 65536 || return 1
	deliver decap_gue_v6 "$NODE_S6" "$SLB6" 6 6080
}

# setup --gue-port sets the port (and says so), and changes nothing when it is set already.
setup_gue_port_option() {
	expect_ok vsn_slb setup "${SETUP_ARGS[@]}" --gue-port 6081 || return 1
	expect_line "GUE port 6081 (was 6080)" &&
		expect_line "ready: IP-in-IP and GUE (UDP port 6081) from 2 nodes to 2 VIPs is decapsulated on eth0" ||
		return 1
	deliver decap_gue_v4 "$NODE_S4" "$SLB4" 4 6081 || return 1
	expect_ok vsn_slb setup "${SETUP_ARGS[@]}" --gue-port off || return 1
	expect_line "GUE port off (was 6081)" &&
		expect_line "ready: IP-in-IP from 2 nodes to 2 VIPs is decapsulated on eth0" || return 1
	expect_ok vsn_slb setup "${SETUP_ARGS[@]}" --gue-port 6080 || return 1
	expect_line "GUE port 6080 (was off)" || return 1
	expect_ok vsn_slb setup "${SETUP_ARGS[@]}" --gue-port 6080 || return 1
	expect_line "GUE port 6080 (unchanged)" || return 1
	expect_fail vsn_slb setup "${SETUP_ARGS[@]}" --gue-port 70000 || return 1
	expect_grep "setup: '70000' is no UDP port (1 to 65535, or off)"
}

stranger_dropped() {
	refuse "$STRANGER4" "$SLB4" 4 && refuse "$STRANGER6" "$SLB6" 6 &&
		refuse "$STRANGER4" "$SLB4" 6
}

allow_then_disallow_at_run_time() {
	expect_ok vsn_slb allow "$STRANGER4" || return 1
	expect_line "allowed node $STRANGER4" || return 1
	deliver decap_v4 "$STRANGER4" "$SLB4" 4 || return 1
	expect_ok vsn_slb allow "$STRANGER4" || return 1
	expect_line "node $STRANGER4 already allowed" || return 1
	expect_ok vsn_slb disallow "$STRANGER4" || return 1
	expect_line "disallowed node $STRANGER4" || return 1
	refuse "$STRANGER4" "$SLB4" 4 || return 1
	expect_ok vsn_slb disallow "$STRANGER4" || return 1
	expect_line "node $STRANGER4 was not allowed" || return 1
	# A typo anywhere changes nothing.
	expect_fail vsn_slb allow "$STRANGER4" 10.100.2.300 || return 1
	expect_ok vsn_slb show || return 1
	! grep -qxF "  $STRANGER4" <<<"$OUT" || vsn_fail "$STRANGER4 allowed by a refused command"
}

# The allow-list holds 1024 addresses (two are the nodes'): a command that would overflow it is
# refused whole.
allow_refuses_beyond_capacity() {
	local many=() i

	for ((i = 0; i < 1022; i++)); do many+=("$(printf '2001:db8:f::%x' "$i")"); done
	expect_ok vsn_ns "$NS_SLB" "$VSN_SLB" --pin-dir "$SLB_PIN_DIR" allow "${many[@]}" || return 1
	[ "$(grep -c '^allowed node ' <<<"$OUT")" = 1022 ] || vsn_fail "not 1022 allowed" || return 1
	expect_fail vsn_ns "$NS_SLB" "$VSN_SLB" --pin-dir "$SLB_PIN_DIR" allow "$STRANGER4" \
		"$STRANGER6" || return 1
	expect_grep "allow: the allow-list holds 1024 addresses; 2 more do not fit in 1024" ||
		return 1
	expect_ok vsn_ns "$NS_SLB" "$VSN_SLB" --pin-dir "$SLB_PIN_DIR" disallow "${many[@]}" ||
		return 1
	expect_ok vsn_slb show --json || return 1
	[ "$(grep -c '"kind":"node"' <<<"$OUT")" = 2 ] || vsn_fail "not back to 2 nodes: $OUT"
}

# Traffic that is no IP-in-IP (ping, both families) passes untouched and is counted as such.
plain_traffic_passes() {
	local d

	snapshot before || return 1
	expect_ok vsn_ns "$NS_NODE" ping -c 2 -i 0.2 -W 2 "$SLB4" || return 1
	expect_ok vsn_ns "$NS_NODE" ping -c 2 -i 0.2 -W 2 "$SLB6" || return 1
	snapshot after || return 1
	d=$(delta before after pass_not_encap) && [ "$d" -ge 4 ] ||
		vsn_fail "pass_not_encap moved by ${d:-?}, expected 4 or more" || return 1
	for d in decap_v4 decap_v6 pass_malformed drop_not_allowed; do
		[ "$(delta before after $d)" -eq 0 ] || vsn_fail "$d moved" || return 1
	done
}

teardown_removes_it() {
	expect_ok vsn_slb teardown --dev eth0 --vip "$VIP4" --vip "$VIP6" || return 1
	echo "$OUT"
	expect_line "detached from eth0" &&
		expect_line "unloaded the decap program from $SLB_PIN_DIR (its allow-list and counters are gone)" &&
		expect_line "removed VIP $VIP4/32 from lo" &&
		expect_line "removed VIP $VIP6/128 from lo" &&
		expect_line "left net.ipv4.conf.{all,eth0}.{arp_ignore,arp_announce} as they are" ||
		return 1
	[ ! -e "$SLB_PIN_DIR" ] || vsn_fail "$SLB_PIN_DIR still exists" || return 1
	! vsn_ns "$NS_SLB" ip link show dev eth0 | grep -q xdp || vsn_fail "XDP still on eth0" ||
		return 1
	! vsn_ns "$NS_SLB" ip addr show dev lo | grep -qE "$VIP4|$VIP6" ||
		vsn_fail "a VIP is still on lo" || return 1
	[ "$(sysctl_slb all arp_ignore)" = 1 ] || vsn_fail "arp_ignore was reset" || return 1
	# Without the program the kernel, which has no ipip module, cannot deliver it.
	send "$NODE_S4" "$SLB4" 4 && not_received 4 || vsn_fail "delivered without the program"
}

teardown_twice_is_fine() {
	expect_ok vsn_slb teardown --dev eth0 --vip "$VIP4" || return 1
	expect_line "the decap program is not loaded under $SLB_PIN_DIR" &&
		expect_line "VIP $VIP4 was not on lo" || return 1
	expect_ok vsn_slb show || return 1
	expect_line "decap program: not loaded under $SLB_PIN_DIR"
}

# Generic (skb) mode moves the packet head in another code path of the kernel: deliver there too.
generic_mode_delivers() {
	expect_ok vsn_slb setup --dev eth0 --node "$NODE_S4" --vip "$VIP4" --mode generic || return 1
	expect_line "attached to eth0 (generic)" || return 1
	expect_ok vsn_ns "$NS_SLB" ip link show dev eth0 || return 1
	expect_grep "xdpgeneric" || return 1
	deliver decap_v4 "$NODE_S4" "$SLB4" 4 || return 1
	refuse "$NODE_S6" "$SLB6" 6 || return 1
	expect_ok vsn_slb teardown --dev eth0 --vip "$VIP4" || return 1
	[ ! -e "$SLB_PIN_DIR" ] || vsn_fail "$SLB_PIN_DIR still exists"
}

# The usage in the guide is what --help prints (trailing blanks aside).
docs_usage_current() {
	vsn_docs_usage_current vsn-slb "$DOC" vsn_slb --help
}

# Every vsn-slb command the guide shows is one this test ran: the docs cannot show a command that rots.
docs_commands_ran() {
	vsn_docs_commands_ran vsn-slb "$DOC" "$VSN_STATE_DIR/slb.log" 6
}

main() {
	local t0=$SECONDS

	vsn_require socat
	vsn_built "$VSN_SLB"
	vsn_bpffs_ensure || exit 1
	vsn_state_init || exit 1
	vsn_trap_cleanup
	vsn_tap_init
	: >"$VSN_STATE_DIR/slb.log"
	build_topology "vsns$$-" "/sys/fs/bpf/vsns$$" || {
		echo "Bail out! cannot build the topology"
		exit 1
	}
	start_listeners || {
		echo "Bail out! the UDP listeners did not start"
		exit 1
	}
	vsn_note "namespaces $NS_NODE / $NS_SLB, pin dir $SLB_PIN_DIR, ready in $((SECONDS - t0)) s"

	vsn_tap setup_refuses_bad_arguments
	vsn_tap setup_undone_when_attach_fails
	vsn_tap setup_applies
	vsn_tap setup_twice_changes_nothing
	vsn_tap vips_on_lo
	vsn_tap arp_sysctls_set
	vsn_tap program_attached
	vsn_tap show_lists_everything
	vsn_tap decap_4in4_delivered
	vsn_tap decap_6in6_delivered
	vsn_tap decap_6in4_delivered
	vsn_tap decap_4in6_delivered
	vsn_tap stranger_dropped
	vsn_tap decap_gue_4in4_delivered
	vsn_tap decap_gue_6in6_delivered
	vsn_tap decap_gue_4in6_delivered
	vsn_tap gue_stranger_dropped
	vsn_tap gue_port_commands
	vsn_tap setup_gue_port_option
	vsn_tap allow_then_disallow_at_run_time
	vsn_tap allow_refuses_beyond_capacity
	vsn_tap plain_traffic_passes
	vsn_tap teardown_removes_it
	vsn_tap teardown_twice_is_fine
	vsn_tap generic_mode_delivers
	vsn_tap docs_usage_current
	vsn_tap docs_commands_ran
	vsn_note "took $((SECONDS - t0)) s"
	vsn_tap_done
}

main "$@"

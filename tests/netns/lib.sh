# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Shared helpers of the netns test tier (root only) and of the demo.
# Source it; it defines functions and constants and runs nothing.
#
#  +------------------------+      +--------------------------------+      +--------------------------+
#  | ns <prefix>client      |      | ns <prefix>node                |      | ns <prefix>slb           |
#  |                        |      |  forwarding on, rp_filter off, |      |  nginx :80 (v4 and v6)   |
#  | eth0 10.100.1.2/24     | veth |  no route to the VIPs          | veth | eth0 10.100.2.2/24       |
#  |      2001:db8:1::2/64  |------| cli0 [XDP vsn]    slb0         |------|      2001:db8:2::2/64    |
#  |                        |      | 10.100.1.1/24     10.100.2.1/24|      | lo   192.0.2.80/32       |
#  | 192.0.2.80/32,         |      | 2001:db8:1::1/64  2001:db8:2::1|      |      2001:db8:100::80/128|
#  | 2001:db8:100::80/128,  |      |                   /64          |      | default via the node     |
#  | the SLB's subnets      |      |                                |      | arp_ignore=1, announce=2 |
#  |   via the node         |      |                                |      |                          |
#  +------------------------+      +--------------------------------+      +--------------------------+
#
#  client -> VIP:  client eth0 -> node cli0, where XDP matches the VIP, rewrites the MACs
#                  and redirects out of slb0 -> slb eth0 -> nginx (the VIP is on its lo).
#  slb -> client:  direct server return, routed by the node's kernel (no XDP on that path).
#
# Veth facts (docs/DESIGN.md section 6): every sending veth has tx checksum offload off, and the
# SLB's eth0, which receives XDP redirects, has GRO on (else redirected frames are dropped).
#
# Every namespace, process, pin dir and file made here is first written to a registry
# ($VSN_STATE_DIR/resources); vsn_cleanup undoes the registry in reverse order, so a run that
# dies half-way is still cleaned up, and demo.sh --clean can clean a run that has ended.

VSN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VSN_DPCTL=${VSN_DPCTL:-$VSN_ROOT/build/vsn-dpctl}
case "$VSN_DPCTL" in /*) ;; *) VSN_DPCTL=$PWD/$VSN_DPCTL ;; esac
VSN_SKIP=77

VIP4=192.0.2.80
VIP6=2001:db8:100::80
CLIENT4=10.100.1.2
CLIENT6=2001:db8:1::2
NODE_C4=10.100.1.1
NODE_C6=2001:db8:1::1
NODE_S4=10.100.2.1
NODE_S6=2001:db8:2::1
SLB4=10.100.2.2
SLB6=2001:db8:2::2
IF_NODE_CLIENT=cli0
IF_NODE_SLB=slb0
SLB_NAME=slb-a
SLB_BODY="hello from $SLB_NAME"

VSN_STATE_DIR=
VSN_VERBOSE=${VSN_VERBOSE:-0}
NS_CLIENT='' NS_NODE='' NS_SLB='' PIN_DIR=''

vsn_debug() { [ "$VSN_VERBOSE" = 1 ] && echo "  . $*" >&2; return 0; }

# Exit with the skip code; the caller says why.
vsn_skip() {
	echo "SKIP: $*"
	exit "$VSN_SKIP"
}

# Skip unless root and every tool the topology needs is present; fail if vsn-dpctl is not built.
vsn_require() {
	local t missing=()

	[ "$(id -u)" -eq 0 ] || vsn_skip "netns tests need root"
	for t in ip nsenter ethtool sysctl nginx curl nft ping ss awk mountpoint "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] || vsn_skip "missing tools: ${missing[*]} (scripts/deps.sh installs them)"
	vsn_built "$VSN_DPCTL"
}

# vsn_built BIN...: exit 1 (a failure, not a skip) unless every BIN is built.
vsn_built() {
	local b

	for b in "$@"; do
		[ -x "$b" ] || {
			echo "error: $b is not built (make all)" >&2
			exit 1
		}
	done
}

# bpffs is not mounted on every machine. A mount made here is left in place on purpose: other
# users of the machine may pin there meanwhile, and unmounting would hide their pins.
vsn_bpffs_ensure() {
	mountpoint -q /sys/fs/bpf && return 0
	mkdir -p /sys/fs/bpf
	mount -t bpf bpf /sys/fs/bpf
}

# vsn_state_init [DIR]: the run's directory (a fresh mktemp one unless DIR is given) with its
# registry. The directory is the first entry, so it is removed last.
vsn_state_init() {
	if [ -n "${1:-}" ]; then
		VSN_STATE_DIR=$1
		mkdir -p "$VSN_STATE_DIR" || return 1
	else
		VSN_STATE_DIR=$(mktemp -d /tmp/vsn-netns.XXXXXX) || return 1
	fi
	: >"$VSN_STATE_DIR/resources"
	vsn_register dir "$VSN_STATE_DIR"
}

# vsn_register KIND ARGS...: remember something to undo. Called before the thing is made.
vsn_register() {
	echo "$*" >>"$VSN_STATE_DIR/resources"
}

vsn_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# vsn_netns_destroy NAME: end the processes left in a namespace of ours, then delete it.
vsn_netns_destroy() {
	local ns=$1 pid pids i sig=TERM

	[ -e "/run/netns/$ns" ] || return 0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] && break
		[ "$i" -ge 8 ] && sig=KILL
		for pid in $pids; do
			kill -"$sig" "$pid" 2>/dev/null
		done
		sleep 0.2
	done
	ip netns del "$ns" 2>/dev/null
}

# vsn_pid_stop PID NETNS: stop a process we started in NETNS, checking first that PID still is
# that process (it may have died and its id been reused since, e.g. before demo.sh --clean).
vsn_pid_stop() {
	local pid=$1 ns=$2 i

	[ -e "/proc/$pid" ] && [ -e "/run/netns/$ns" ] || return 0
	[ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$(stat -L -c %i "/run/netns/$ns")" ] ||
		return 0
	kill -TERM "$pid" 2>/dev/null
	# A zombie has ended: its parent (a daemon's, or PID 1) reaps it in its own time.
	for i in $(seq 1 25); do
		alive "$pid" || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

vsn_pindir_remove() {
	local dir=$1

	[ -e "$dir" ] || return 0
	"$VSN_DPCTL" --pin-dir "$dir" unload >/dev/null 2>&1
	case "$dir" in
	/sys/fs/bpf/?*) rm -rf "$dir" ;;
	esac
}

# Undo the registry, newest first. Safe to call twice and on a half-built topology.
vsn_cleanup() {
	local reg kind a b

	[ -n "$VSN_STATE_DIR" ] && [ -f "$VSN_STATE_DIR/resources" ] || return 0
	reg=$(tac "$VSN_STATE_DIR/resources")
	while read -r kind a b; do
		vsn_debug "remove $kind $a $b"
		case "$kind" in
		pid) vsn_pid_stop "$a" "$b" ;;
		pidfile) [ -f "$a" ] && vsn_pid_stop "$(cat "$a")" "$b" ;;
		pindir) vsn_pindir_remove "$a" ;;
		netns) vsn_netns_destroy "$a" ;;
		dir) case "$a" in /tmp/vsn-netns.* | /run/vsn-demo) rm -rf "$a" ;; esac ;;
		esac
	done <<<"$reg"
	VSN_STATE_DIR=
}

# Clean up on exit, Ctrl-C and TERM. INT/TERM exit so that the EXIT trap runs once.
vsn_trap_cleanup() {
	trap vsn_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
}

# vsn-dpctl on the node. Each call's arguments go to $VSN_STATE_DIR/dpctl.log (paths inside the
# state dir shortened to their name), so a test can check that the docs show only commands that
# ran.
vsn_dpctl() {
	local args="$*"

	echo "${args//$VSN_STATE_DIR\//}" >>"$VSN_STATE_DIR/dpctl.log"
	vsn_ns "$NS_NODE" "$VSN_DPCTL" --pin-dir "$PIN_DIR" "$@"
}

# vsn_dpctl_bg LOG ARGS: a long-running vsn-dpctl on the node (resolve --watch), output to LOG.
# Started as a simple command so that VSN_BG_PID is vsn-dpctl itself (nsenter execs it), which
# vsn_pid_stop can signal: a background shell function would get the signal instead, as bash
# ignores SIGINT in background jobs of a script.
VSN_BG_PID=
vsn_dpctl_bg() {
	local log=$1

	shift
	echo "$*" >>"$VSN_STATE_DIR/dpctl.log"
	nsenter --net="/run/netns/$NS_NODE" "$VSN_DPCTL" --pin-dir "$PIN_DIR" "$@" >"$log" 2>&1 &
	VSN_BG_PID=$!
	vsn_register pid "$VSN_BG_PID" "$NS_NODE"
}

# The command line a person types to run vsn-dpctl on the node, for narration.
vsn_dpctl_cmdline() {
	echo "nsenter --net=/run/netns/$NS_NODE $VSN_DPCTL --pin-dir $PIN_DIR"
}

# vsn_topology_build PREFIX PIN_DIR: the three namespaces and two veth pairs of the picture.
vsn_topology_build() {
	local p=$1 ns

	NS_CLIENT=${p}client
	NS_NODE=${p}node
	NS_SLB=${p}slb
	PIN_DIR=$2
	for ns in "$NS_CLIENT" "$NS_NODE" "$NS_SLB"; do
		vsn_register netns "$ns"
		ip netns add "$ns" || return 1
		# No duplicate address detection: addresses are usable at once.
		vsn_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 || return 1
		vsn_ns "$ns" ip link set dev lo up || return 1
	done
	vsn_register pindir "$PIN_DIR"

	# The node routes the SLB's replies to the client; it has no route to the VIPs, so the
	# reverse-path filter must be off or it drops those replies (source: a VIP).
	vsn_ns "$NS_NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
	# Direct server return: the SLB holds the VIPs but must not answer ARP for them.
	vsn_ns "$NS_SLB" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2 || return 1

	ip link add name eth0 netns "$NS_CLIENT" type veth peer name "$IF_NODE_CLIENT" \
		netns "$NS_NODE" || return 1
	ip link add name "$IF_NODE_SLB" netns "$NS_NODE" type veth peer name eth0 \
		netns "$NS_SLB" || return 1

	vsn_ns "$NS_CLIENT" ip addr add "$CLIENT4/24" dev eth0 &&
		vsn_ns "$NS_CLIENT" ip addr add "$CLIENT6/64" dev eth0 nodad &&
		vsn_ns "$NS_NODE" ip addr add "$NODE_C4/24" dev "$IF_NODE_CLIENT" &&
		vsn_ns "$NS_NODE" ip addr add "$NODE_C6/64" dev "$IF_NODE_CLIENT" nodad &&
		vsn_ns "$NS_NODE" ip addr add "$NODE_S4/24" dev "$IF_NODE_SLB" &&
		vsn_ns "$NS_NODE" ip addr add "$NODE_S6/64" dev "$IF_NODE_SLB" nodad &&
		vsn_ns "$NS_SLB" ip addr add "$SLB4/24" dev eth0 &&
		vsn_ns "$NS_SLB" ip addr add "$SLB6/64" dev eth0 nodad &&
		vsn_ns "$NS_SLB" ip addr add "$VIP4/32" dev lo &&
		vsn_ns "$NS_SLB" ip addr add "$VIP6/128" dev lo || return 1

	vsn_ns "$NS_NODE" sysctl -qw "net.ipv4.conf.$IF_NODE_CLIENT.rp_filter=0" \
		"net.ipv4.conf.$IF_NODE_SLB.rp_filter=0" || return 1
	# Checksums computed in software on every sending veth; GRO on where XDP redirects land, and
	# on the client, where the node's XDP_TX replies (too big) land.
	vsn_ns "$NS_CLIENT" ethtool -K eth0 tx off >/dev/null &&
		vsn_ns "$NS_CLIENT" ethtool -K eth0 gro on >/dev/null &&
		vsn_ns "$NS_NODE" ethtool -K "$IF_NODE_CLIENT" tx off >/dev/null &&
		vsn_ns "$NS_NODE" ethtool -K "$IF_NODE_SLB" tx off >/dev/null &&
		vsn_ns "$NS_SLB" ethtool -K eth0 tx off >/dev/null &&
		vsn_ns "$NS_SLB" ethtool -K eth0 gro on >/dev/null || return 1

	vsn_ns "$NS_CLIENT" ip link set dev eth0 up &&
		vsn_ns "$NS_NODE" ip link set dev "$IF_NODE_CLIENT" up &&
		vsn_ns "$NS_NODE" ip link set dev "$IF_NODE_SLB" up &&
		vsn_ns "$NS_SLB" ip link set dev eth0 up || return 1

	vsn_ns "$NS_CLIENT" ip route add "$VIP4/32" via "$NODE_C4" dev eth0 &&
		vsn_ns "$NS_CLIENT" ip -6 route add "$VIP6/128" via "$NODE_C6" dev eth0 &&
		vsn_ns "$NS_CLIENT" ip route add "${SLB4%.*}.0/24" via "$NODE_C4" dev eth0 &&
		vsn_ns "$NS_CLIENT" ip -6 route add "${SLB6%::*}::/64" via "$NODE_C6" dev eth0 &&
		vsn_ns "$NS_SLB" ip route add default via "$NODE_S4" dev eth0 &&
		vsn_ns "$NS_SLB" ip -6 route add default via "$NODE_S6" dev eth0 || return 1
	vsn_topology_wait
}

# For about a second after the links come up, the node leaves the first IPv6 neighbour
# solicitation unanswered (it counts one Ip6InNoRoutes), so a first IPv6 connection waits 1 s
# for the retry. Ping each neighbour until it answers: the links are then ready and the
# neighbour caches warm, so later packet counts hold no resolution traffic.
vsn_topology_wait() {
	local ns dst ns_dst i

	for ns_dst in "$NS_CLIENT $NODE_C4" "$NS_CLIENT $NODE_C6" "$NS_SLB $NODE_S4" \
		"$NS_SLB $NODE_S6"; do
		read -r ns dst <<<"$ns_dst"
		for i in $(seq 1 10); do
			vsn_ns "$ns" ping -c 1 -W 1 -i 0.2 "$dst" >/dev/null 2>&1 && continue 2
		done
		echo "no answer from $dst in $ns" >&2
		return 1
	done
}

# vsn_nginx_conf DIR CONNECTIONS SERVER [HEAD]: DIR/nginx.conf for an nginx whose files all live
# in DIR (pid, logs, temp paths; run as root, one worker, daemonized), with worker_connections
# CONNECTIONS, one server block of the text SERVER, and HEAD (load_module lines) first.
vsn_nginx_conf() {
	local d=$1

	mkdir -p "$d/tmp" || return 1
	cat >"$d/nginx.conf" <<EOF
${4:-}
user root;
worker_processes 1;
daemon on;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections $2; }
http {
	access_log $d/access.log;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	server {
$3
	}
}
EOF
}

# vsn_nginx_start [NS NAME BODY]: nginx in namespace NS (default the SLB's) on port 80 (both
# families), answering BODY (default "$SLB_BODY"), its files in $VSN_STATE_DIR/NAME (default
# nginx). It daemonizes once its sockets listen, in a session of its own (a Ctrl-C on the terminal
# reaches only the script, which then stops it); its master's pid is in its pid file.
vsn_nginx_start() {
	local ns=${1:-$NS_SLB} d=$VSN_STATE_DIR/${2:-nginx} body=${3:-$SLB_BODY} pid i

	vsn_nginx_conf "$d" 64 "		listen 80;
		listen [::]:80;
		default_type text/plain;
		location / { return 200 \"$body\\n\"; }" || return 1
	# Should the pid file never appear, deleting the namespace still ends what runs there.
	vsn_register pidfile "$d/nginx.pid" "$ns"
	if ! vsn_ns "$ns" nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log" \
		</dev/null >"$d/stdout.log" 2>&1; then
		echo "nginx did not start:" >&2
		cat "$d/stdout.log" "$d/error.log" >&2 2>/dev/null
		return 1
	fi
	for i in $(seq 1 50); do
		pid=$(cat "$d/nginx.pid" 2>/dev/null)
		if [ -n "$pid" ] && [ "$(vsn_ns "$ns" ss -Hltn 'sport = :80' | wc -l)" -ge 2 ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "nginx does not listen on port 80 (v4 and v6):" >&2
	cat "$d/error.log" >&2 2>/dev/null
	return 1
}

# vsn_nginx_kill [NAME]: a crash of the nginx that vsn_nginx_start NS NAME started: SIGKILL to
# its master and workers at once (workers outlive a killed master otherwise). 1: none running.
vsn_nginx_kill() {
	local d=$VSN_STATE_DIR/${1:-nginx} master kids=()

	master=$(cat "$d/nginx.pid" 2>/dev/null)
	[ -n "$master" ] && kill -0 "$master" 2>/dev/null || return 1
	# pgrep, not a walk of /proc/*/stat: a process that ends during the walk stops awk.
	mapfile -t kids < <(pgrep -P "$master")
	kill -KILL "$master" "${kids[@]}"
}

# Counters on the SLB's ingress, before routing, of the packets that reached it for each VIP's
# tcp/80: what the node really delivered, counted independently of the forwarder.
vsn_nft_counters_add() {
	vsn_ns "$NS_SLB" nft -f - <<EOF
table inet vsntest {
	counter vip4_80 { }
	counter vip6_80 { }
	chain pre {
		type filter hook prerouting priority -300;
		ip daddr $VIP4 tcp dport 80 counter name vip4_80
		ip6 daddr $VIP6 tcp dport 80 counter name vip6_80
	}
}
EOF
}

# vsn_nft_count NAME: "PACKETS BYTES" of an SLB-side counter.
vsn_nft_count() {
	vsn_ns "$NS_SLB" nft list counter inet vsntest "$1" |
		awk '/packets/ { for (i = 1; i < NF; i++) { if ($i == "packets") p = $(i + 1); if ($i == "bytes") b = $(i + 1) } } END { print p + 0, b + 0 }'
}

# Wait until the SLB-side counters stop moving (the last ACKs of closed connections).
vsn_settle() {
	local prev="" cur i

	for i in $(seq 1 30); do
		cur="$(vsn_nft_count vip4_80) $(vsn_nft_count vip6_80)"
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
		sleep 0.2
	done
	return 0
}

# vsn_curl URL [MAX_TIME]: one HTTP request from the client (a new TCP connection).
vsn_curl() {
	vsn_ns "$NS_CLIENT" curl -sS --max-time "${2:-5}" "$1"
}

# vsn_policy_write FILE: the policy set of this topology (its text is in docs/dpctl.md).
vsn_policy_write() {
	cat >"$1" <<EOF
generation: 1
slbs:
  - id: 1
    address: $SLB4
    forward: l2
    state: up
  - id: 2
    address: "$SLB6"
    forward: l2
    state: up
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
EOF
}

# vsn_cnt FILE KIND NAME|ID [packets|bytes]: one value from a 'counters --json' snapshot.
vsn_cnt() {
	local key field=${4:-packets}

	if [ "$2" = reason ] || [ "$2" = flow ]; then
		key="\"kind\":\"$2\",\"name\":\"$3\","
	else
		key="\"kind\":\"$2\",\"id\":$3,"
	fi
	awk -v k="$key" -v f="\"$field\":" '
		index($0, k) == 2 {
			s = substr($0, index($0, f) + length(f))
			sub(/[^0-9].*/, "", s)
			print s
			found = 1
			exit
		}
		END { exit !found }' "$1"
}

# vsn_cnt_delta BEFORE AFTER KIND NAME|ID [packets|bytes]
vsn_cnt_delta() {
	local a b

	a=$(vsn_cnt "$1" "$3" "$4" "${5:-packets}") || return 1
	b=$(vsn_cnt "$2" "$3" "$4" "${5:-packets}") || return 1
	echo $((b - a))
}

# TAP-style runner: vsn_tap FUNCTION [ARGS], the function's name naming the check. Its output is
# shown, as '#' comments, only when it fails; vsn_note prints a comment either way.
VSN_TAP_N=0 VSN_TAP_PASS=0 VSN_TAP_FAIL=0

# Call once before the first vsn_tap: fd 3 is the terminal, for notes from inside a test.
vsn_tap_init() {
	exec 3>&1
}

vsn_note() { echo "# $*" >&3; }

# The SLBs of vsn_slbs_topology_build, by name: SLBS lists them; each has its address
# (ADDR_OF), the node's address on its link (NODE_ADDR_OF) and the node's interface (IF_OF);
# NS_SLB_OF is set to its namespace.
declare -A NS_SLB_OF=() ADDR_OF=() NODE_ADDR_OF=() IF_OF=()
SLBS=''

# vsn_slbs_topology_build PREFIX PIN_DIR: the namespaces PREFIX{client,node} and PREFIX<slb> of
# each of SLBS, the client on the node's cli0 (the VIP routed via the node), each SLB on a veth of
# its own (an XDP redirect cannot target a bridge) holding the VIP on lo for direct server
# return (VIP); neighbour caches warm both ways between the node and each SLB.
vsn_slbs_topology_build() {
	local p=$1 ns s i dst

	NS_CLIENT=${p}client
	NS_NODE=${p}node
	for s in $SLBS; do NS_SLB_OF[$s]=$p$s; done
	PIN_DIR=$2
	for ns in "$NS_CLIENT" "$NS_NODE" "${NS_SLB_OF[@]}"; do
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
	vsn_retry 10 vsn_ns "$NS_CLIENT" ping -c 1 -W 1 "$NODE_C4" || {
		echo "no answer from $NODE_C4 in $NS_CLIENT" >&2
		return 1
	}
	for s in $SLBS; do
		dst=${NODE_ADDR_OF[$s]}
		if ! vsn_retry 10 vsn_ns "${NS_SLB_OF[$s]}" ping -c 1 -W 1 "$dst" ||
			! vsn_retry 10 vsn_ns "$NS_NODE" ping -c 1 -W 1 "${ADDR_OF[$s]}"; then
			echo "no ping between the node and $s" >&2
			return 1
		fi
	done
}

# vsn_retry TRIES CMD...: CMD (its output discarded) until it succeeds, at most TRIES times,
# 0.1 s apart.
vsn_retry() {
	local n=$1 i

	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# vsn_check [--name NAME] [--log FILE] FUNCTION [ARG...]: one TAP check, as vsn_tap, with its
# time on the result line (NAME: the function's; FILE: $VSN_STATE_DIR/tap.log, which keeps its
# output, shown when it fails). It runs in this shell: what it sets survives.
vsn_check() {
	local name='' log=$VSN_STATE_DIR/tap.log t0 ms

	while :; do
		case "$1" in
		--name) name=$2 && shift 2 ;;
		--log) log=$2 && shift 2 ;;
		*) break ;;
		esac
	done
	name=${name:-$1}
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
}

# vsn_keep_logs DIR: with VSN_LOG_DIR set, DIR's logs, documents and outputs (not its keys or
# tokens) copied there, for a look after the cleanup.
vsn_keep_logs() {
	[ -n "${VSN_LOG_DIR:-}" ] && [ -n "$1" ] && [ -d "$1" ] || return 0
	mkdir -p "$VSN_LOG_DIR" &&
		(cd "$1" && find . -maxdepth 2 -type f \( -name '*.log' -o -name '*.yaml' -o \
			-name '*.out' -o -name '*.cfg' -o -name '*.conf' -o -name '*.txt' -o \
			-name '*.show' \) \
			-exec cp --parents -t "$VSN_LOG_DIR" {} +)
}

vsn_tap() {
	local name=$1 log

	log=$VSN_STATE_DIR/tap.log
	VSN_TAP_N=$((VSN_TAP_N + 1))
	if "$@" >"$log" 2>&1; then
		VSN_TAP_PASS=$((VSN_TAP_PASS + 1))
		echo "ok $VSN_TAP_N - $name"
	else
		VSN_TAP_FAIL=$((VSN_TAP_FAIL + 1))
		echo "not ok $VSN_TAP_N - $name"
		sed 's/^/#   /' "$log"
	fi
}

# Print the plan and the closing line; returns non-zero if anything failed.
vsn_tap_done() {
	echo "1..$VSN_TAP_N"
	echo "$VSN_TAP_PASS passed, $VSN_TAP_FAIL failed"
	[ "$VSN_TAP_FAIL" -eq 0 ]
}

# In a test function: print why and fail.
vsn_fail() {
	echo "$*"
	return 1
}

# ---- The SLB host side: vsn-slb and IP-in-IP made by hand ----

VSN_SLB=${VSN_SLB:-$VSN_ROOT/build/vsn-slb}
case "$VSN_SLB" in /*) ;; *) VSN_SLB=$PWD/$VSN_SLB ;; esac
SLB_PIN_DIR=''

# vsn_slb ARGS: vsn-slb in the SLB namespace with the pin dir $SLB_PIN_DIR. Each call's arguments
# go to $VSN_STATE_DIR/slb.log, so a test can check that the docs show only commands that ran.
vsn_slb() {
	echo "$*" >>"$VSN_STATE_DIR/slb.log"
	vsn_ns "$NS_SLB" "$VSN_SLB" --pin-dir "$SLB_PIN_DIR" "$@"
}

# vsn_hex_ip4 ADDR / vsn_hex_ip6 ADDR: the address's bytes as hex digits (IPv6: no embedded IPv4).
vsn_hex_ip4() {
	local o1 o2 o3 o4

	IFS=. read -r o1 o2 o3 o4 <<<"$1"
	printf '%02x%02x%02x%02x' "$o1" "$o2" "$o3" "$o4"
}

vsn_hex_ip6() {
	local head=$1 tail='' h=() t=() g i out=''

	if [[ $1 == *::* ]]; then
		head=${1%%::*}
		tail=${1#*::}
	fi
	IFS=: read -ra h <<<"$head"
	IFS=: read -ra t <<<"$tail"
	for g in "${h[@]}"; do out+=$(printf '%04x' $((16#$g))); done
	for ((i = ${#h[@]} + ${#t[@]}; i < 8; i++)); do out+=0000; done
	for g in "${t[@]}"; do out+=$(printf '%04x' $((16#$g))); done
	echo "$out"
}

# vsn_csum HEX: the Internet checksum (RFC 1071) of the bytes, as 4 hex digits.
vsn_csum() {
	local hex=$1 s=0 i

	((${#hex} % 4)) && hex+=00
	for ((i = 0; i < ${#hex}; i += 4)); do s=$((s + 16#${hex:i:4})); done
	while ((s >> 16)); do s=$(((s & 0xffff) + (s >> 16))); done
	printf '%04x' $((~s & 0xffff))
}

# vsn_pkt_udp SRC DST SPORT DPORT TEXT: an IPv4 or IPv6 (by SRC) UDP datagram carrying TEXT, as
# hex, with every checksum right: what a client would send to a VIP.
vsn_pkt_udp() {
	local src dst data ulen udp c ip

	data=$(printf '%s' "$5" | od -An -tx1 -v | tr -d ' \n')
	ulen=$((8 + ${#data} / 2))
	udp=$(printf '%04x%04x%04x' "$3" "$4" "$ulen")
	if [[ $1 == *:* ]]; then
		src=$(vsn_hex_ip6 "$1")
		dst=$(vsn_hex_ip6 "$2")
		c=$(vsn_csum "$src$dst$(printf '0000%04x00000011' "$ulen")${udp}0000$data")
		[ "$c" = 0000 ] && c=ffff
		printf '60000000%04x1140%s%s%s%s%s\n' "$ulen" "$src" "$dst" "$udp" "$c" "$data"
	else
		src=$(vsn_hex_ip4 "$1")
		dst=$(vsn_hex_ip4 "$2")
		c=$(vsn_csum "$src${dst}0011$(printf '%04x' "$ulen")${udp}0000$data")
		[ "$c" = 0000 ] && c=ffff
		ip=$(printf '4500%04x000040004011' $((20 + ulen)))
		printf '%s%s%s%s%s%s%s\n' "$ip" "$(vsn_csum "${ip}0000$src$dst")" "$src" "$dst" \
			"$udp" "$c" "$data"
	fi
}

# vsn_ipip_send NS SRC DST HEX [GUE_PORT]: from namespace NS, send the IP packet HEX encapsulated in
# an outer header from SRC to DST (outer family by DST; protocol 4 or 41 by HEX's version), as a
# node does; with GUE_PORT, in GUE instead: UDP to that port, then a GUE header of variant 0 whose
# protocol is 4 or 41, then the packet. The kernel writes the outer header (and the UDP header: its
# source port and checksum): a raw or UDP socket (socat) needs no ipip or fou module.
vsn_ipip_send() {
	local proto data=$4 src=$2 dst=$3 v=4 to

	case ${4:0:1} in
	4) proto=4 ;;
	6) proto=41 ;;
	*) return 1 ;;
	esac
	[[ $3 == *:* ]] && v=6 src="[$2]" dst="[$3]"
	if [ -n "${5:-}" ]; then
		to="UDP$v-SENDTO:$dst:$5,bind=$src"
		data=$(printf '00%02x0000' "$proto")$4
	else
		to="IP$v-SENDTO:$dst:$proto,bind=$src"
	fi
	# shellcheck disable=SC2059 # the format is nothing but \xHH escapes
	printf "$(sed 's/../\\x&/g' <<<"$data")" | vsn_ns "$1" socat -u - "$to"
}

# vsn_decap_cnt FILE NAME [packets|bytes]: one counter from a 'vsn-slb show --json' snapshot.
vsn_decap_cnt() {
	awk -v k="\"kind\":\"decap\",\"name\":\"$2\"," -v f="\"${3:-packets}\":" '
		index($0, k) == 2 {
			s = substr($0, index($0, f) + length(f))
			sub(/[^0-9].*/, "", s)
			print s
			found = 1
			exit
		}
		END { exit !found }' "$1"
}

# The docs cannot rot: checks shared by the tests of each tool's guide.
# vsn_docs_usage_current TOOL DOC CMD...: the '$ TOOL --help' block of DOC is what CMD prints.
vsn_docs_usage_current() {
	local tool=$1 doc=$2 want got
	shift 2

	got=$("$@" 2>&1 | sed 's/[[:space:]]*$//') || vsn_fail "failed: $*" || return 1
	want=$(awk -v h="\$ $tool --help" '$0 == h { on = 1; next } on && /^```/ { exit } on' \
		"$doc" | sed 's/[[:space:]]*$//')
	[ -n "$want" ] || vsn_fail "no '\$ $tool --help' block in $doc" || return 1
	[ "$got" = "$want" ] || vsn_fail "docs usage differs: $(diff <(echo "$want") <(echo "$got"))"
}

# vsn_docs_commands_ran TOOL DOC LOG MIN: every TOOL command DOC shows ('$ ...' lines in fenced
# blocks, and `TOOL ...` code spans) is a line of LOG, the arguments of each call the test made;
# and DOC shows at least MIN of them.
vsn_docs_commands_ran() {
	local tool=$1 doc=$2 log=$3 min=$4 cmds c bad=0 n=0

	cmds=$({
		awk -v t="$tool" '/^```/ { on = !on; next } on && /^\$ / && index($0, t)' "$doc"
		grep -o "\`$tool [^\`]*\`" "$doc" | tr -d '`'
	} | sed -E "s/.*$tool( --pin-dir [^ ]+)? ?//" | sort -u)
	while IFS= read -r c; do
		[ -n "$c" ] || c="(no arguments)"
		n=$((n + 1))
		if ! grep -qxF -- "$c" "$log"; then
			echo "docs show '$tool $c', which this test never ran"
			bad=1
		fi
	done <<<"$cmds"
	[ "$n" -ge "$min" ] || vsn_fail "found only $n commands in $doc" || return 1
	return $bad
}

# ---- Processes and logs of the tests that run the daemons (vsnd, vsn-node) ----

now_us() { echo "${EPOCHREALTIME/./}"; }
ms_since() { echo $((($(now_us) - $1) / 1000)); }

# Lines of a log are counted to mark a point; "since MARK" is what came after it.
mark() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
since() { tail -n +"$(($2 + 1))" "$1" 2>/dev/null; }

# wait_log FILE MARK REGEX TIMEOUT_MS: wait until a line after MARK matches REGEX (grep -E).
wait_log() {
	local file=$1 m=$2 re=$3 tmo=$4 t0

	t0=$(now_us)
	until since "$file" "$m" | grep -qE -- "$re"; do
		if [ "$(ms_since "$t0")" -ge "$tmo" ]; then
			echo "no line matching '$re' in $(basename "$file") within $tmo ms; it ends:"
			since "$file" "$m" | tail -n 15 | sed 's/^/    /'
			return 1
		fi
		sleep 0.01
	done
}

# count_log FILE MARK REGEX: how many lines after MARK match.
count_log() { since "$1" "$2" | grep -cE -- "$3"; }

# bg_in NS LOG COMMAND...: COMMAND in namespace NS in the background, its output appended to LOG;
# BG_PID is the program itself (nsenter execs it), registered for the cleanup. Not on the test's
# terminal (fd 3).
BG_PID=''
bg_in() {
	local ns=$1 log=$2

	shift 2
	nsenter --net="/run/netns/$ns" "$@" </dev/null >>"$log" 2>&1 3>&- &
	BG_PID=$!
	vsn_register pid "$BG_PID" "$ns"
}

# alive PID: running (a child that has exited stays a zombie until reaped).
alive() {
	local st

	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]
}

# stop_pid PID SIGNAL: signal it and reap it (SIGKILL after 3 s); its exit status in STOP_RC.
# stderr is discarded throughout: bash's notice of a job it reaped as "Killed" is no test output.
STOP_RC=''
stop_pid() {
	local i

	{
		kill -"$2" "$1"
		for i in $(seq 1 300); do
			alive "$1" || break
			sleep 0.01
		done
		alive "$1" && kill -KILL "$1"
		wait "$1"
		STOP_RC=$?
	} 2>/dev/null
}

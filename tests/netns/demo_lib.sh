# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# The demo's topology, daemons and traffic (DESIGN.md section 6), for tests/netns/demo.sh and
# tests/netns/test_demo.sh. Source it after lib.sh; it defines functions and constants and runs
# nothing.
#
#                                  ECMP for the VIP (L4 hash)
#  +--------------+      +-----------------+  n1   +--------------+
#  | client       |  c0  | router          |-------| node1        |  up0 [XDP vsn-node]
#  | 10.100.1.2   |------| 10.100.1.1      |  n2   | 10.100.11.2  |  lan0 10.100.2.1
#  | 10.100.9.2   |      | 10.100.9.1      |-------| node2        |  up0 [XDP vsn-node]
#  | (the prefix  |      | lan 10.100.2.254|       | 10.100.12.2  |  lan0 10.100.2.2
#  |  of a rule)  |      +--------+--------+       +------+-------+
#  +--------------+               |  the SLBs' default     |  l2: MACs rewritten
#                                 |  gateway (their        |  ipip: IPv4 in IPv4
#  +------------------------------+--- answers go back ----+--------------------------------+
#  | lan: bridge br0, 10.100.2.0/24, MTU 1600 (room for the outer header)                    |
#  +--------+--------------------+--------------------+--------------------+----------------+
#           |                    |                    |                    |
#  +--------+-------+  +---------+------+  +----------+--------+  +--------+-----------------+
#  | slb-a .10      |  | slb-b .11      |  | slb-c .12         |  | ctl .100                 |
#  | HAProxy :80    |  | HAProxy :80    |  | nginx :80         |  | vsnd: nodes :7700 (mTLS) |
#  |  -> nginx      |  |  -> nginx      |  | decap XDP program |  | API 127.0.0.1:7443       |
#  | stats :8404    |  | stats :8404    |  |  (vsn-slb), ipip  |  | SQLite store             |
#  | VIP on lo, l2  |  | VIP on lo, l2  |  | VIP on lo         |  |                          |
#  +----------------+  +----------------+  +-------------------+  +--------------------------+
#
# The client reaches the VIP through the router, which spreads its flows over node1 and node2
# (a multipath route, hashed on the ports). Each node's XDP forwarder sends a flow to an SLB on
# the bridge; the SLB answers the client directly through the router (direct server return).
#
# Every namespace, process, pin dir and file is registered first (lib.sh: vsn_register), so
# vsn_cleanup removes all of it on success, failure and Ctrl-C, and demo.sh --clean after --keep.

# shellcheck disable=SC2034 # constants for demo.sh and test_demo.sh

# Where the demo lives. tests/netns/test_demo.sh sets names of its own, so that a test run never
# touches a demo an operator keeps (--keep); the state directory is then /tmp/vsn-netns.*.
DEMO_PREFIX=${VSN_DEMO_PREFIX:-vsndemo-}
DEMO_STATE=${VSN_DEMO_STATE:-/run/vsn-demo}
DEMO_PIN=${VSN_DEMO_PIN:-/sys/fs/bpf/vsn-demo}

DEMO_VIP=192.0.2.80
DEMO_CLIENT=10.100.1.2
DEMO_PARTNER=10.100.9.2 # the client's second address: in the document's 'clients' prefix
DEMO_PARTNER_NET=10.100.9.0/24
DEMO_CTL=10.100.2.100
DEMO_ROUTER_LAN=10.100.2.254
DEMO_PORT=7700
DEMO_API=127.0.0.1:7443
DEMO_CTL_NAME=ctl.vsn.demo
DEMO_NODES='node1 node2'
DEMO_SLBS='slb-a slb-b slb-c'
DEMO_MAXCONN=20 # HAProxy's frontend maxconn on slb-a and slb-b: its 'slim', a load of 1
DEMO_LAN_MTU=1600

declare -A DEMO_ADDR=([node1]=10.100.2.1 [node2]=10.100.2.2 [slb-a]=10.100.2.10
	[slb-b]=10.100.2.11 [slb-c]=10.100.2.12)
declare -A DEMO_UPLINK=([node1]=10.100.11 [node2]=10.100.12) # router .1, node .2

DEMO_VSND=${VSND:-$VSN_ROOT/build/vsnd}
DEMO_VSN_NODE=${VSN_NODE:-$VSN_ROOT/build/vsn-node}
DEMO_VSN=${VSN:-$VSN_ROOT/build/vsn}

S='' # the state directory ($DEMO_STATE)

demo_ns() { echo "$DEMO_PREFIX$1"; }
dns() { # NAME ARGS: run ARGS in the demo's namespace NAME
	local n=$1

	shift
	nsenter --net="/run/netns/$DEMO_PREFIX$n" "$@"
}

# demo_veth NS1 IF1 NS2 IF2 [MTU]: a veth pair between two of the demo's namespaces, transmit
# checksum offload off on both ends (DESIGN section 6), GRO on both (XDP redirects land on one).
demo_veth() {
	local mtu=${5:-1500}

	ip link add name "$2" mtu "$mtu" netns "$DEMO_PREFIX$1" type veth peer name "$4" mtu "$mtu" \
		netns "$DEMO_PREFIX$3" || return 1
	dns "$1" ethtool -K "$2" tx off gro on >/dev/null &&
		dns "$3" ethtool -K "$4" tx off gro on >/dev/null
}

demo_topology_build() {
	local n ns s i

	for n in client router lan node1 node2 slb-a slb-b slb-c ctl; do
		ns=$DEMO_PREFIX$n
		vsn_register netns "$ns"
		ip netns add "$ns" || return 1
		dns "$n" ip link set dev lo up || return 1
	done

	# The bridge: every host of 10.100.2.0/24 is one port of it.
	dns lan ip link add name br0 mtu "$DEMO_LAN_MTU" type bridge &&
		dns lan ip link set dev br0 up || return 1

	# client -- router
	demo_veth client eth0 router c0 || return 1
	dns client ip addr add "$DEMO_CLIENT/24" dev eth0 &&
		dns client ip addr add "$DEMO_PARTNER/24" dev eth0 &&
		dns client ip link set dev eth0 up &&
		dns client ip route add default via 10.100.1.1 &&
		dns router ip addr add 10.100.1.1/24 dev c0 &&
		dns router ip addr add 10.100.9.1/24 dev c0 &&
		dns router ip link set dev c0 up || return 1

	# router: forwards; SLB answers come from the VIP on its LAN port while the VIP's route
	# points at the nodes, so no reverse-path filter; the multipath hash covers the ports.
	dns router sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv4.fib_multipath_hash_policy=1 || return 1

	for n in node1 node2; do
		i=${DEMO_UPLINK[$n]}
		demo_veth router "n${n#node}" "$n" up0 || return 1
		demo_veth "$n" lan0 lan "$n" "$DEMO_LAN_MTU" || return 1
		dns router ip addr add "$i.1/24" dev "n${n#node}" &&
			dns router sysctl -qw "net.ipv4.conf.n${n#node}.rp_filter=0" &&
			dns router ip link set dev "n${n#node}" up &&
			dns "$n" ip addr add "$i.2/24" dev up0 &&
			dns "$n" ip addr add "${DEMO_ADDR[$n]}/24" dev lan0 &&
			dns "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
				net.ipv4.conf.default.rp_filter=0 &&
			dns "$n" ip link set dev up0 up &&
			dns "$n" ip link set dev lan0 up &&
			dns lan ip link set dev "$n" master br0 up || return 1
	done
	dns router ip route add "$DEMO_VIP/32" nexthop via "${DEMO_UPLINK[node1]}.2" dev n1 \
		nexthop via "${DEMO_UPLINK[node2]}.2" dev n2 || return 1

	demo_veth router lan lan router "$DEMO_LAN_MTU" || return 1
	dns router ip addr add "$DEMO_ROUTER_LAN/24" dev lan &&
		dns router sysctl -qw net.ipv4.conf.lan.rp_filter=0 &&
		dns router ip link set dev lan up &&
		dns lan ip link set dev router master br0 up || return 1

	demo_veth ctl eth0 lan ctl "$DEMO_LAN_MTU" || return 1
	dns ctl ip addr add "$DEMO_CTL/24" dev eth0 &&
		dns ctl ip link set dev eth0 up &&
		dns lan ip link set dev ctl master br0 up || return 1

	for s in $DEMO_SLBS; do
		demo_veth "$s" eth0 lan "$s" "$DEMO_LAN_MTU" || return 1
		# Direct server return: the SLB holds the VIP but never answers ARP for it (slb-c:
		# vsn-slb setup sets the same).
		dns "$s" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 &&
			dns "$s" ip addr add "${DEMO_ADDR[$s]}/24" dev eth0 &&
			dns "$s" ip link set dev eth0 up &&
			dns "$s" ip route add default via "$DEMO_ROUTER_LAN" &&
			dns lan ip link set dev "$s" master br0 up || return 1
		[ "$s" = slb-c ] || dns "$s" ip addr add "$DEMO_VIP/32" dev lo || return 1
	done
	demo_topology_wait
}

# Links up, the bridge forwarding, neighbour caches warm.
demo_topology_wait() {
	local n

	for n in node1 node2 slb-a slb-b slb-c; do
		vsn_retry 30 dns ctl ping -c 1 -W 1 "${DEMO_ADDR[$n]}" ||
			{ echo "no answer from $n (${DEMO_ADDR[$n]}) on the LAN" >&2 && return 1; }
		vsn_retry 30 dns "$n" ping -c 1 -W 1 "$DEMO_ROUTER_LAN" ||
			{ echo "$n cannot reach the router" >&2 && return 1; }
	done
	for n in node1 node2; do
		vsn_retry 30 dns router ping -c 1 -W 1 "${DEMO_UPLINK[$n]}.2" ||
			{ echo "the router cannot reach $n" >&2 && return 1; }
		vsn_retry 30 dns "$n" ping -c 1 -W 1 -I lan0 "${DEMO_ADDR[slb-c]}" || return 1
	done
	vsn_retry 30 dns client ping -c 1 -W 1 10.100.1.1
}

# ---- the SLBs' software ----

# demo_nginx_start SLB: nginx in SLB's namespace answering its name. On slb-a and slb-b it is the
# application behind HAProxy (127.0.0.1:8080); on slb-c it is the SLB itself (port 80). /slow
# answers after 60 s: a long request, the load of the overflow step. Daemonized, in a session of
# its own; its master's pid in its pid file (registered).
demo_nginx_start() {
	local s=$1 d=$S/$1/nginx listen=127.0.0.1:8080 pid i

	[ "$s" = slb-c ] && listen=80
	vsn_nginx_conf "$d" 512 "		listen $listen;
		default_type text/plain;
		keepalive_timeout 0;
		location / { return 200 \"$s\"; }
		location /healthz { return 200 \"ok\"; }
		location /slow { echo_sleep 60; echo \"$s\"; }" \
		"load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;" || return 1
	vsn_register pidfile "$d/nginx.pid" "$DEMO_PREFIX$s"
	rm -f "$d/nginx.pid"
	if ! dns "$s" setsid nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log" \
		</dev/null >"$d/stdout.log" 2>&1; then
		echo "nginx did not start on $s:" >&2
		cat "$d/stdout.log" "$d/error.log" >&2 2>/dev/null
		return 1
	fi
	for i in $(seq 1 50); do
		pid=$(cat "$d/nginx.pid" 2>/dev/null)
		[ -n "$pid" ] && dns "$s" ss -Hltn "sport = :${listen##*:}" | grep -q . && return 0
		sleep 0.1
	done
	echo "nginx does not listen on $s" >&2
	return 1
}

# demo_nginx_stop SLB: a fast shutdown of SLB's nginx (SIGTERM to its master), waited for.
demo_nginx_stop() {
	local d=$S/$1/nginx pid i

	pid=$(cat "$d/nginx.pid" 2>/dev/null) || return 1
	kill -TERM "$pid" 2>/dev/null || return 1
	for i in $(seq 1 50); do
		[ -e "/proc/$pid" ] || return 0
		sleep 0.05
	done
	return 1
}

# demo_haproxy_start SLB: HAProxy on SLB in front of its nginx: frontend 'web' on port 80 (the
# VIP on lo), at most $DEMO_MAXCONN sessions; frontend 'health' on ADDRESS:8405, where vsnd's
# probe asks /healthz of the same nginx (not through 'web': a full pool must not look down); its
# statistics page on ADDRESS:8404, whose CSV vsnd scrapes for the SLB's load.
demo_haproxy_start() {
	local s=$1 d=$S/$1/haproxy i

	mkdir -p "$d" || return 1
	cat >"$d/haproxy.cfg" <<EOF
global
	maxconn 1000
	pidfile $d/haproxy.pid

defaults
	mode http
	timeout connect 1s
	timeout client 90s
	timeout server 90s
	timeout http-request 10s
	# A client that goes away ends its session at once (the overflow step ends its load so).
	option abortonclose

frontend web
	bind :80
	maxconn $DEMO_MAXCONN
	default_backend app

frontend health
	bind ${DEMO_ADDR[$s]}:8405
	default_backend app

frontend stats
	bind ${DEMO_ADDR[$s]}:8404
	stats enable
	stats uri /stats

# No retry: with nginx gone, a request gets its 503 at once (HAProxy would retry a refused
# connection a second later, three times).
backend app
	retries 0
	server nginx 127.0.0.1:8080
EOF
	vsn_register pidfile "$d/haproxy.pid" "$DEMO_PREFIX$s"
	if ! dns "$s" setsid haproxy -D -f "$d/haproxy.cfg" </dev/null >"$d/haproxy.log" 2>&1; then
		echo "HAProxy did not start on $s:" >&2
		cat "$d/haproxy.log" >&2
		return 1
	fi
	for i in $(seq 1 50); do
		[ "$(dns "$s" ss -Hltn 'sport = :80 or sport = :8404 or sport = :8405' | wc -l)" -ge 3 ] &&
			return 0
		sleep 0.1
	done
	echo "HAProxy does not listen on $s" >&2
	return 1
}

# demo_haproxy_scur SLB: the sessions HAProxy's frontend 'web' holds now (its CSV's scur).
demo_haproxy_scur() {
	dns ctl curl -s --max-time 1 "http://${DEMO_ADDR[$1]}:8404/stats;csv" |
		awk -F, '/^# / { for (i = 1; i <= NF; i++) if ($i == "scur") c = i; next }
			$1 == "web" && $2 == "FRONTEND" { print $c; exit }'
}

# The decap program on slb-c, taking IP-in-IP only from the two nodes' underlay addresses.
demo_slb_decap() {
	vsn_register pindir "$DEMO_PIN/slb-c"
	dns slb-c "$VSN_SLB" --pin-dir "$DEMO_PIN/slb-c" setup --dev eth0 \
		--node "${DEMO_ADDR[node1]}" --node "${DEMO_ADDR[node2]}" --vip "$DEMO_VIP"
}

# ---- certificates, vsnd, the agents, the CLI ----

demo_certs() {
	"$DEMO_VSN" ca create --dir "$S/ca" --name vsn-demo-ca &&
		"$DEMO_VSN" cert issue --ca "$S/ca" --out "$S/ctl" --controller "$DEMO_CTL_NAME" \
			--ip "$DEMO_CTL" --ip 127.0.0.1 &&
		"$DEMO_VSN" cert issue --ca "$S/ca" --out "$S/node1" --node node1 &&
		"$DEMO_VSN" cert issue --ca "$S/ca" --out "$S/node2" --node node2 || return 1
	(umask 077 && printf 'admin %s # the demo\nread %s # the demo\n' \
		"$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" \
		"$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" >"$S/tokens")
	# What an operator sources to use the CLI on this controller (demo.sh --keep prints it).
	cat >"$S/env" <<EOF
# Source this file: the vsn CLI then talks to the demo's controller.
export VSN_SERVER=https://$DEMO_API
export VSN_CA=$S/ctl/ca.crt
export VSN_TOKEN=$(awk '$1 == "admin" { print $2 }' "$S/tokens")
# The API listens in the controller's namespace: run the CLI there.
vsn() { nsenter --net=/run/netns/${DEMO_PREFIX}ctl $DEMO_VSN "\$@"; }
EOF
}

VSND_PID='' VSND_LOG=''
demo_vsnd_start() {
	VSND_LOG=$S/vsnd.log
	nsenter --net="/run/netns/${DEMO_PREFIX}ctl" "$DEMO_VSND" --listen "$DEMO_CTL:$DEMO_PORT" \
		--ca "$S/ctl/ca.crt" --cert "$S/ctl/$DEMO_CTL_NAME.crt" \
		--key "$S/ctl/$DEMO_CTL_NAME.key" --db "$S/vsn.db" --api "$DEMO_API" \
		--tokens "$S/tokens" --eval-interval-ms 200 --dwell-ms 3000 \
		</dev/null >>"$VSND_LOG" 2>&1 3>&- &
	VSND_PID=$!
	vsn_register pid "$VSND_PID" "${DEMO_PREFIX}ctl"
	wait_log "$VSND_LOG" 0 ' vsnd start: listen=' 5000
}

demo_agent_start() { # NODE
	local n=$1

	cat >"$S/$n.yaml" <<EOF
node: $n
controller: $DEMO_CTL:$DEMO_PORT
tls:
  ca: $S/$n/ca.crt
  cert: $S/$n/$n.crt
  key: $S/$n/$n.key
state_dir: $S/$n-state
pin_dir: $DEMO_PIN/$n
interfaces:
  - name: up0
underlay:
  ipv4: ${DEMO_ADDR[$n]}
max_flows: 65536
stats_interval_ms: 1000
keepalive_interval_ms: 1000
keepalive_timeout_ms: 7000
reconnect_min_ms: 50
reconnect_max_ms: 500
EOF
	vsn_register pindir "$DEMO_PIN/$n"
	nsenter --net="/run/netns/$DEMO_PREFIX$n" "$DEMO_VSN_NODE" --config "$S/$n.yaml" \
		</dev/null >>"$S/$n.log" 2>&1 3>&- &
	vsn_register pid "$!" "$DEMO_PREFIX$n"
}

# vsnctl ARGS: the vsn CLI on the demo's controller, as an operator runs it after sourcing
# $S/env (admin token).
vsnctl() {
	(
		# shellcheck disable=SC1091
		. "$S/env" && USER=demo vsn "$@"
	)
}

# demo_dpctl NODE ARGS: vsn-dpctl on NODE's forwarder.
demo_dpctl() {
	local n=$1

	shift
	dns "$n" "$VSN_DPCTL" --pin-dir "$DEMO_PIN/$n" "$@"
}

# ---- client traffic ----

# The traffic loop, run by bash in the client's namespace: a new connection to the VIP every
# ~100 ms (every third one from the 'clients' prefix address), one line per request to LOG:
# "EPOCH_MS main|prefix ANSWER", ANSWER the SLB's name, or http-CODE, or none (no answer in 2 s).
# shellcheck disable=SC2016 # bash -c's script: expanded where it runs
DEMO_TRAFFIC_LOOP='
log=$1 vip=$2 partner=$3 i=0
while :; do
	i=$((i + 1))
	src=main opt=
	if [ $((i % 3)) = 0 ]; then src=prefix opt="--interface $partner"; fi
	t=${EPOCHREALTIME/./}
	out=$(curl -s --connect-timeout 1 --max-time 2 $opt -w " %{http_code}" "http://$vip/")
	code=${out##* }
	case $code in
	200) a=${out% *} ;;
	000 | "") a=none ;;
	*) a=http-$code ;;
	esac
	echo "$((t / 1000)) $src $a" >>"$log"
	sleep 0.1
done'

TRAFFIC_PID=''
demo_traffic_start() {
	: >"$S/traffic.log"
	nsenter --net="/run/netns/${DEMO_PREFIX}client" bash -c "$DEMO_TRAFFIC_LOOP" traffic \
		"$S/traffic.log" "$DEMO_VIP" "$DEMO_PARTNER" </dev/null >/dev/null 2>&1 3>&- &
	TRAFFIC_PID=$!
	vsn_register pid "$TRAFFIC_PID" "${DEMO_PREFIX}client"
}

now_ms() { echo $(($(now_us) / 1000)); }

# demo_answers FROM_MS TO_MS SRC: the answers of SRC's requests sent in [FROM_MS, TO_MS), counted:
# "slb-a=12 slb-b=9" (sorted by name).
demo_answers() {
	awk -v f="$1" -v t="$2" -v s="$3" '$1 >= f && $1 < t && $2 == s { n[$3]++ }
		END { for (a in n) print a "=" n[a] }' "$S/traffic.log" | sort | tr '\n' ' ' |
		sed 's/ $//'
}

# The overflow's load: N long requests (/slow) from the client through the VIP, each a
# connection of its own that HAProxy holds as a session.
LOAD_PIDS=()
demo_load_start() { # N
	local i

	for ((i = 0; i < $1; i++)); do
		nsenter --net="/run/netns/${DEMO_PREFIX}client" curl -s -o /dev/null --max-time 90 \
			"http://$DEMO_VIP/slow" </dev/null >/dev/null 2>&1 3>&- &
		LOAD_PIDS+=("$!")
		vsn_register pid "$!" "${DEMO_PREFIX}client"
	done
}

demo_load_stop() {
	local p

	for p in "${LOAD_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${LOAD_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	LOAD_PIDS=()
}

# ---- removal ----

# What a run of the demo leaves, one line each; nothing when it left nothing.
demo_leftovers() {
	local ns pids

	ns=$(ip netns list 2>/dev/null | awk -v p="$DEMO_PREFIX" 'index($1, p) == 1 { print $1 }')
	[ -n "$ns" ] && echo "namespaces: $(tr '\n' ' ' <<<"$ns")"
	[ -e "$DEMO_PIN" ] && echo "pins: $DEMO_PIN"
	[ -e "$DEMO_STATE" ] && echo "files: $DEMO_STATE"
	# Every process of the demo has a file of the state directory on its command line.
	pids=$(pgrep -f -- "$DEMO_STATE/" 2>/dev/null | grep -vx "$$")
	[ -n "$pids" ] && echo "processes: $(ps -o pid=,args= -p "$(paste -sd , <<<"$pids")" 2>/dev/null)"
	return 0
}

# demo_stop_processes: SIGTERM to every process of the registry at once (each checked to still
# be ours: running in the namespace it was registered with), SIGKILL to any left after 3 s.
# vsn_cleanup then finds them gone. Stopping them one by one would wait for each: after --keep
# they are orphans, and a slow init leaves each a zombie for a while.
demo_stop_processes() {
	local kind a b p pids=() left i

	[ -f "$DEMO_STATE/resources" ] || return 0
	while read -r kind a b; do
		case "$kind" in
		pid) p=$a ;;
		pidfile) p=$(cat "$a" 2>/dev/null) || continue ;;
		*) continue ;;
		esac
		if [ -z "$p" ] || [ ! -e "/run/netns/$b" ]; then continue; fi
		[ "$(stat -L -c %i "/proc/$p/ns/net" 2>/dev/null)" = "$(stat -L -c %i "/run/netns/$b")" ] &&
			pids+=("$p")
	done <"$DEMO_STATE/resources"
	[ ${#pids[@]} -gt 0 ] || return 0
	kill -TERM "${pids[@]}" 2>/dev/null
	for i in $(seq 1 30); do
		left=()
		for p in "${pids[@]}"; do alive "$p" && left+=("$p"); done
		[ ${#left[@]} -eq 0 ] && return 0
		sleep 0.1
	done
	kill -KILL "${left[@]}" 2>/dev/null
	return 0
}

# demo_cleanup: remove what the registry holds (processes first, all at once).
demo_cleanup() {
	# shellcheck disable=SC2034 # vsn_cleanup's registry; a caller's own stays as it is
	local VSN_STATE_DIR=$DEMO_STATE

	demo_stop_processes
	vsn_cleanup
	demo_state_remove
}

# The state directory: vsn_cleanup removes /run/vsn-demo and /tmp/vsn-netns.* only.
demo_state_remove() {
	case "$DEMO_STATE" in
	/run/vsn-demo | /tmp/vsn-netns.?*) rm -rf "$DEMO_STATE" ;;
	esac
}

# Remove a demo: the registry of a run (all of it, newest first), then whatever a run killed
# before it registered. Returns 1 when there was nothing to remove.
demo_clean() {
	local ns found=0

	if [ -f "$DEMO_STATE/resources" ]; then
		demo_cleanup
		found=1
	fi
	for ns in $(ip netns list 2>/dev/null | awk -v p="$DEMO_PREFIX" 'index($1, p) == 1 { print $1 }'); do
		vsn_netns_destroy "$ns"
		found=1
	done
	if [ -e "$DEMO_PIN" ]; then
		vsn_pindir_remove "$DEMO_PIN"
		found=1
	fi
	[ -e "$DEMO_STATE" ] && found=1
	demo_state_remove
	return $((1 - found))
}

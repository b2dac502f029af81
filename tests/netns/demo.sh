#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The interim vsn demo (what `make demo` runs until the controller demo exists): one network
# node forwards a virtual service's traffic to an SLB with XDP, narrated step by step.
# Topology and helpers: tests/netns/lib.sh. Needs root.
#
#   tests/netns/demo.sh           run it, then remove everything (also on failure and Ctrl-C)
#   tests/netns/demo.sh --keep    leave it running and print how to explore it
#   tests/netns/demo.sh --clean   remove what --keep left
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEMO_PREFIX=vsndemo-
DEMO_STATE=/run/vsn-demo
DEMO_PIN=/sys/fs/bpf/vsn-demo

if [ -t 1 ]; then
	B=$'\e[1m' D=$'\e[2m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'
else
	B='' D='' G='' R='' N=''
fi

step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
say() { printf '    %s\n' "$*"; }
indent() { sed 's/^/      /'; }

# node_run ARGS: run vsn-dpctl on the node, showing the command and its output.
node_run() {
	printf '    %snode$ vsn-dpctl %s%s\n' "$D" "$*" "$N"
	vsn_dpctl "$@" 2>&1 | indent
	return "${PIPESTATUS[0]}"
}

# client_curl URL [MAX_TIME]: one request from the client, showing the answer or the error.
client_curl() {
	local out

	printf '    %sclient$ curl %s%s\n' "$D" "$1" "$N"
	if out=$(vsn_curl "$1" "${2:-5}" 2>&1); then
		printf '      %s%s%s\n' "$G" "$out" "$N"
	else
		printf '      %s%s%s\n' "$R" "$out" "$N"
		return 1
	fi
}

# The counters of 'vsn-dpctl counters', zero rows left out.
show_counters() {
	printf '    %snode$ vsn-dpctl counters%s   (rows at zero left out)\n' "$D" "$N"
	vsn_dpctl counters | awk '/:$/ || $(NF - 3) != 0' | indent
}

demo_clean() {
	local ns found=0

	if [ -f "$DEMO_STATE/resources" ]; then
		VSN_STATE_DIR=$DEMO_STATE
		vsn_cleanup
		found=1
	fi
	# Whatever a run killed before it could write its registry.
	for ns in $(ip netns list 2>/dev/null | awk -v p="$DEMO_PREFIX" 'index($1, p) == 1 { print $1 }'); do
		vsn_netns_destroy "$ns"
		found=1
	done
	if [ -e "$DEMO_PIN" ]; then
		vsn_pindir_remove "$DEMO_PIN"
		found=1
	fi
	rm -rf "$DEMO_STATE"
	return $((1 - found))
}

# On every exit but --keep's: say why when it is not a success, then remove everything.
demo_exit() {
	local rc=$?

	case $rc in
	0) ;;
	130 | 143) printf '\n%sInterrupted: removing the demo.%s\n' "$B" "$N" ;;
	*) printf '\n%sThe demo failed (exit %s): removing it. Run it with --keep to look around.%s\n' \
		"$R" "$rc" "$N" ;;
	esac
	vsn_cleanup
}

explore() {
	local d c n s

	d=$(vsn_dpctl_cmdline)
	c="nsenter --net=/run/netns/$NS_CLIENT"
	n="nsenter --net=/run/netns/$NS_NODE"
	s="nsenter --net=/run/netns/$NS_SLB"
	step "The demo keeps running. Explore it:"
	cat <<EOF
    namespaces: $NS_CLIENT, $NS_NODE, $NS_SLB   (ip netns list)
    vsn-dpctl on the node (pin dir $PIN_DIR; run it through nsenter, not 'ip netns exec',
    which hides /sys/fs/bpf):
      $d show
      $d counters
      $d slb 1 state down
      $d slb 1 state up
    traffic from the client:
      $c curl http://$VIP4/
      $c curl 'http://[$VIP6]/'
    a shell in a namespace:      $n bash
    packets the SLB receives:    $s tcpdump -ni eth0
    the policy file applied:     $DEMO_STATE/policy.yaml
    nginx's logs:                $DEMO_STATE/nginx/
    remove everything:           tests/netns/demo.sh --clean
EOF
}

main() {
	local keep=0 t0=$SECONDS

	case "${1:-}" in
	--keep) keep=1 ;;
	--clean)
		[ "$(id -u)" -eq 0 ] || { echo "demo.sh --clean needs root" >&2; exit 1; }
		if demo_clean; then echo "vsn demo removed"; else echo "no vsn demo to remove"; fi
		exit 0
		;;
	"") ;;
	-h | --help)
		sed -n '4,10p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "usage: $0 [--keep | --clean]" >&2
		exit 2
		;;
	esac
	vsn_require
	if [ -e "$DEMO_STATE" ] || [ -e "$DEMO_PIN" ]; then
		echo "A demo left by --keep is still up; removing it first."
		demo_clean
	fi
	vsn_bpffs_ensure || exit 1
	vsn_state_init "$DEMO_STATE" || exit 1
	vsn_trap_cleanup
	trap demo_exit EXIT

	step "vsn demo: a virtual service, forwarded by XDP to a load balancer with direct server return"
	say "Three network namespaces: a client, a vsn network node, an SLB (nginx)."
	say "client $CLIENT4 --- $NODE_C4 [$IF_NODE_CLIENT: XDP] node [$IF_NODE_SLB] $NODE_S4 --- $SLB4 slb"
	say "VIPs $VIP4 and $VIP6: the client routes them to the node; the SLB holds"
	say "them on its loopback and answers the client directly. The node itself has no route"
	say "to the VIPs: only the XDP forwarder can deliver them."
	vsn_topology_build "$DEMO_PREFIX" "$DEMO_PIN" || { echo "cannot build the topology" >&2; exit 1; }
	vsn_nginx_start || exit 1
	say "Built: $NS_CLIENT, $NS_NODE, $NS_SLB; nginx answers \"$SLB_BODY\" on port 80."

	step "Attach the forwarder to the node's client-facing interface (auto: native, else generic)"
	node_run attach "$IF_NODE_CLIENT" || exit 1

	step "Apply a policy set: the VIPs' tcp/80 go to the SLB, IPv4 as slb 1, IPv6 as slb 2"
	vsn_policy_write "$VSN_STATE_DIR/policy.yaml"
	sed 's/^/      /' "$VSN_STATE_DIR/policy.yaml"
	node_run apply "$VSN_STATE_DIR/policy.yaml" || exit 1

	step "What the node runs: each SLB's next hop is resolved (interface, source -> next-hop MAC)"
	node_run show || exit 1

	step "Requests from the client to the VIPs, each a new TCP connection"
	for i in 1 2 3; do client_curl "http://$VIP4/" || exit 1; done
	for i in 1 2 3; do client_curl "http://[$VIP6]/" || exit 1; done
	say "A port no policy covers is dropped at the node:"
	client_curl "http://$VIP4:8080/" 1 && exit 1
	show_counters

	step "Take slb 1 down: the IPv4 VIP stops answering at once, without a new policy set"
	node_run slb 1 state down || exit 1
	client_curl "http://$VIP4/" 1 && exit 1
	client_curl "http://[$VIP6]/" || exit 1
	node_run slb 1 state up || exit 1
	client_curl "http://$VIP4/" || exit 1
	show_counters

	step "Done in $((SECONDS - t0)) s."
	if [ "$keep" = 1 ]; then
		trap - EXIT INT TERM HUP
		explore
	else
		say "Removing the namespaces, nginx and the pinned forwarder (--keep leaves them)."
	fi
}

main "$@"

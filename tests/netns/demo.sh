#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The vsn demo (what `make demo` runs): DESIGN.md section 6's network in namespaces — a client, a
# router spreading the VIP's flows over two network nodes (ECMP), three SLBs running HAProxy and
# nginx — run by vsnd and two vsn-node agents over mutual TLS, with live client traffic; then
# each condition of examples/demo.yaml in turn (an SLB fails, a pool fills up, a schedule window
# opens), narrated step by step. Topology and helpers: tests/netns/demo_lib.sh. Needs root.
#
#   tests/netns/demo.sh           run it, then remove everything (also on failure and Ctrl-C)
#   tests/netns/demo.sh --keep    leave it running and print how to explore it (a run that
#                                 fails stays too, to be looked at)
#   tests/netns/demo.sh --clean   remove what --keep left
#
# --report FILE writes what happened as "KEY VALUE" lines to FILE (tests/netns/test_demo.sh).
# VSN_DEMO_PREFIX, VSN_DEMO_STATE, VSN_DEMO_PIN: other names for its namespaces, files and pins.
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/netns/demo_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/demo_lib.sh"

DOC_SRC=$VSN_ROOT/examples/demo.yaml
LOAD_CONNS=24        # the overflow's long requests: 24 of the pool's 2 x 20 sessions
SETTLE_S=3           # traffic watched in each configuration
SCHEDULE_LEAD_S=30   # the window opens at the first whole minute at least this long after apply
REPORT=''

if [ -t 1 ]; then
	B=$'\e[1m' D=$'\e[2m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'
else
	B='' D='' G='' R='' N=''
fi

T0=$SECONDS
step() { printf '\n%s==> [%3ds] %s%s\n' "$B" "$((SECONDS - T0))" "$*" "$N"; }
say() { printf '    %s\n' "$*"; }
indent() { sed 's/^/      /'; }
report() { [ -z "$REPORT" ] || echo "$*" >>"$REPORT"; }
die() {
	printf '    %s%s%s\n' "$R" "$*" "$N"
	exit 1
}

# op ARGS: an operator's vsn command, shown with its output.
op() {
	printf '    %s$ vsn %s%s\n' "$D" "$*" "$N"
	vsnctl "$@" 2>&1 | indent
	return "${PIPESTATUS[0]}"
}

# ---- events ----

EV_LAST=0 # the id of the newest event seen

ev_json() { vsnctl events -o json --since "$1" --limit 1000; }

# ev_mark: remember the newest event, so that the next step shows only what came after it.
ev_mark() {
	local id

	id=$(vsnctl events -o json --limit 1 | jq -r '.events[-1].id // 0') && EV_LAST=$id
}

# show_events: 'vsn events --since' the mark, then move the mark past them.
show_events() {
	op events --since "$EV_LAST"
	ev_mark
}

# wait_switch TO TIMEOUT_MS: wait for web's switch to a configuration matching TO (a regex;
# vsnd's log after the mark LOG_MARK). SWITCH_TO: the configuration; SWITCH_MS: the time of the
# decision (epoch ms, vsnd's clock); SWITCH_LINE: its log line.
LOG_MARK=0 SWITCH_MS='' SWITCH_LINE='' SWITCH_TO=''
wait_switch() {
	local re=" vsnd configuration: service=web from=[^ ]+ to=($1) reason=" ts

	wait_log "$VSND_LOG" "$LOG_MARK" "$re" "$2" || return 1
	SWITCH_LINE=$(since "$VSND_LOG" "$LOG_MARK" | grep -m1 -E "$re")
	SWITCH_TO=$(sed -E 's/.* to=([^ ]+) reason=.*/\1/' <<<"$SWITCH_LINE")
	ts=$(awk '{ print $1 }' <<<"$SWITCH_LINE")
	SWITCH_MS=$(($(date -d "$ts" +%s%N) / 1000000))
}

# back_to_normal: after a condition stopped holding, web returns to normal; or to scheduled when
# the schedule's window opened meanwhile (a slow machine), which the schedule step then tells.
SCHEDULED_MS=''
back_to_normal() {
	wait_switch 'normal|scheduled' 10000 || die "web did not return to normal"
	if [ "$SWITCH_TO" = scheduled ]; then
		[ "$SWITCH_MS" -ge $((WINDOW_AT * 1000)) ] ||
			die "web switched to scheduled before its window ($WINDOW)"
		say "the window $WINDOW opened meanwhile: web went to ${B}scheduled${N} instead"
		SCHEDULED_MS=$SWITCH_MS
	fi
	reach_report "$SWITCH_TO"
	show_events
}

# switch_event CONFIGURATION: the 'configuration' event of web's switch to CONFIGURATION after
# the mark, as JSON (vsnd records it once every node has acknowledged, or given up on: at most
# 30 s after the decision), in EVENT.
EVENT=''
switch_event() {
	local i

	for i in $(seq 1 350); do
		EVENT=$(ev_json "$EV_LAST" | jq -c --arg to "$1" \
			'[.events[] | select(.type == "configuration" and .detail.to == $to)] | first // empty')
		[ -n "$EVENT" ] && return 0
		sleep 0.1
	done
	return 1
}

# reach_report CONFIGURATION: how long the switch to CONFIGURATION took to reach every node.
reach_report() {
	local to=$1 acked line n ms

	switch_event "$to" || die "no configuration event of the switch to $to"
	# ---- THE ONE PLACE that shows the time until every node acknowledged a switch ----
	# The 'configuration' event's detail.acked_ms: from vsnd's decision to the last node's Ack
	# (docs/controller.md). A vsnd that does not record it yet: the nodes' Acks in its log.
	acked=$(jq -r '.detail.acked_ms // empty' <<<"$EVENT")
	if [ -n "$acked" ]; then
		say "on every node: $(jq -r '.detail.acked' <<<"$EVENT") of $(jq -r '.detail.nodes' <<<"$EVENT") nodes acknowledged the new set ${B}${acked} ms${N} after the decision (acked_ms)"
		report "reach $to $acked"
		return 0
	fi
	line=$(grep -nF -- "$SWITCH_LINE" "$VSND_LOG" | head -n 1 | cut -d: -f1)
	for n in $DEMO_NODES; do
		ms=$(tail -n +"${line:-1}" "$VSND_LOG" |
			grep -m1 -E " vsnd ack: node=$n generation=[0-9]+ prepared=false" |
			sed -E 's/.* latency_ms=([0-9.]+).*/\1/')
		say "on $n: Ack ${B}${ms:-?} ms${N} after the commit (vsnd's log; the event has no acked_ms)"
		report "reach_node $to $n ${ms:-?}"
	done
}

# ---- what the client sees ----

# show_answers FROM_MS TO_MS: the answers to the client's requests sent in that time.
show_answers() {
	local m p

	m=$(demo_answers "$1" "$2" main)
	p=$(demo_answers "$1" "$2" prefix)
	say "answers to $DEMO_CLIENT:  ${G}${m:-none}${N}"
	say "answers to $DEMO_PARTNER (clients $DEMO_PARTNER_NET):  ${G}${p:-none}${N}"
	report "answers $PHASE main $m"
	report "answers $PHASE prefix $p"
}

# node_packets NODE: the packets NODE's forwarder sent for service web so far.
node_packets() {
	demo_dpctl "$1" counters --json | jq -s '[.[] | select(.kind == "service") | .packets] | add // 0'
}

PHASE=setup
# watch SECONDS: let the traffic run, then show what the client got meanwhile.
watch() {
	local t1

	t1=$(now_ms)
	sleep "$1"
	show_answers "$t1" "$(now_ms)"
}

# ---- the steps ----

build() {
	local s

	step "The network: 9 namespaces (DESIGN.md section 6)"
	cat <<EOF
      client $DEMO_CLIENT, $DEMO_PARTNER
        |
      router --ECMP ($DEMO_VIP, hashed on the ports)--> node1 [XDP], node2 [XDP]
        |                                                  |          |
      bridge 10.100.2.0/24 ---+----------+----------+------+----------+-------+
                            slb-a      slb-b      slb-c               ctl: vsnd
                         HAProxy    HAProxy    nginx, decap
                          +nginx     +nginx    (ipip)
      The SLBs hold the VIP on lo and answer the client directly, through the router.
EOF
	demo_topology_build || die "cannot build the topology"
	say "Built: $(ip netns list | awk -v p="$DEMO_PREFIX" 'index($1, p) == 1 { print $1 }' | sort |
		paste -sd ' ')"
	say "router: ip route show $DEMO_VIP (fib_multipath_hash_policy=1: source and destination ports too)"
	dns router ip route show "$DEMO_VIP" | indent

	step "The SLBs: HAProxy in front of nginx on slb-a and slb-b; nginx and vsn's decap program on slb-c"
	for s in $DEMO_SLBS; do demo_nginx_start "$s" || die "nginx did not start on $s"; done
	for s in slb-a slb-b; do demo_haproxy_start "$s" || die "HAProxy did not start on $s"; done
	say "slb-c takes IP-in-IP apart before its kernel sees it; only from the nodes' addresses:"
	printf '    %sslb-c$ vsn-slb setup --dev eth0 --node %s --node %s --vip %s%s\n' "$D" \
		"${DEMO_ADDR[node1]}" "${DEMO_ADDR[node2]}" "$DEMO_VIP" "$N"
	demo_slb_decap 2>&1 | indent
	[ "${PIPESTATUS[0]}" -eq 0 ] || die "vsn-slb setup failed"
}

controller() {
	local n

	step "Certificates (vsn ca create, vsn cert issue), vsnd and the two agents"
	demo_certs >"$S/certs.log" 2>&1 || die "certificates: $(cat "$S/certs.log")"
	sed 's/^/      /' "$S/certs.log"
	demo_vsnd_start >/dev/null || die "vsnd did not start: $(tail -n 5 "$VSND_LOG")"
	say "vsnd: nodes on $DEMO_CTL:$DEMO_PORT (mutual TLS), API on https://$DEMO_API, store $S/vsn.db"
	for n in $DEMO_NODES; do demo_agent_start "$n"; done
	for n in $DEMO_NODES; do
		wait_log "$VSND_LOG" 0 " vsnd connected: node=$n " 15000 >/dev/null ||
			die "$n did not connect: $(tail -n 5 "$S/$n.log")"
	done
	for n in $DEMO_NODES; do
		grep -E ' vsn-node (attach|connected):' "$S/$n.log" | sed "s/^/      $n: /"
	done
}

# The document: examples/demo.yaml with a schedule window that opens soon.
WINDOW_AT=0 WINDOW=
write_doc() {
	local now start end

	now=$(date +%s)
	start=$(((now + SCHEDULE_LEAD_S + 59) / 60 * 60))
	end=$((start + 60))
	WINDOW_AT=$start
	WINDOW="$(date -u -d "@$start" +%H:%M)-$(date -u -d "@$end" +%H:%M)"
	[ "${WINDOW#*-}" = 00:00 ] && WINDOW="${WINDOW%-*}-24:00"
	sed -E "s/schedule\(\"[^\"]*\"\)/schedule(\"$WINDOW UTC\")/" "$DOC_SRC" >"$S/demo.yaml"
	report "window $WINDOW $start"
}

apply() {
	local s

	step "Apply examples/demo.yaml: service web ($DEMO_VIP tcp/80) with four configurations"
	write_doc
	say "The schedule's window is made to open $((WINDOW_AT - $(date +%s))) s from now: ${B}$WINDOW UTC${N}"
	awk '/^virtual_services:/ { on = 1 } on && !/^ *#/ && /name:|when:|priority:|destination:|clients:/' \
		"$S/demo.yaml" | sed 's/^/    /'
	ev_mark
	LOG_MARK=$(mark "$VSND_LOG")
	op apply -f "$S/demo.yaml" -m demo || die "vsn apply failed"
	wait_log "$VSND_LOG" "$LOG_MARK" ' vsnd rollout: id=[0-9]+ result=committed' 5000 ||
		die "the nodes did not take the document"
	for s in $DEMO_SLBS; do
		wait_log "$VSND_LOG" 0 " vsnd slb-health: slb=$s .*to=up" 5000 >/dev/null ||
			die "$s's health probe did not come up"
	done
	sleep 0.5
	op status
	show_events
}

normal() {
	local p1 p2 q1 q2

	PHASE=normal
	step "Live traffic: a new connection to $DEMO_VIP every 100 ms; every third from $DEMO_PARTNER"
	p1=$(node_packets node1) p2=$(node_packets node2)
	demo_traffic_start
	watch 4
	q1=$(node_packets node1) q2=$(node_packets node2)
	say "ECMP: node1 forwarded $((q1 - p1)) packets of web, node2 $((q2 - p2)): the router spreads"
	say "the flows, and both nodes pick the same SLB for a flow (same Maglev tables)"
	report "ecmp $((q1 - p1)) $((q2 - p2))"
}

failover() {
	local t_stop

	PHASE=failover
	step "Failover: stop nginx on slb-a; HAProxy there answers 503 and vsnd's probe sees it"
	ev_mark
	LOG_MARK=$(mark "$VSND_LOG")
	t_stop=$(now_ms)
	demo_nginx_stop slb-a || die "nginx on slb-a did not stop"
	say "slb-a$ kill -TERM \$(cat nginx.pid)"
	wait_switch failover 5000 || die "web did not switch to failover"
	say "vsnd found slb-a down (fall: 2 probes, 200 ms apart), sent its state to both nodes and"
	say "switched web to ${B}failover${N} $((SWITCH_MS - t_stop)) ms after the stop"
	reach_report failover
	report "switch failover $((SWITCH_MS - t_stop))"
	report "failover_window $t_stop $SWITCH_MS"
	FAIL_FROM=$t_stop FAIL_TO=$((SWITCH_MS + 2500))
	show_events
	watch "$SETTLE_S"
	op status | sed -n '1,5p'

	PHASE=failover-return
	step "Back: nginx on slb-a again. web returns to normal once slb-a passes 2 probes (rise: 2)"
	say "and the dwell (vsnd --dwell-ms 3000) since the last switch has passed"
	ev_mark
	LOG_MARK=$(mark "$VSND_LOG")
	demo_nginx_start slb-a || die "nginx did not start on slb-a"
	back_to_normal
}

overflow() {
	local t_load sa sb

	PHASE=overflow
	step "Overflow: $LOAD_CONNS long requests (/slow, 60 s each) through the VIP fill the primary pool"
	ev_mark
	LOG_MARK=$(mark "$VSND_LOG")
	t_load=$(now_ms)
	demo_load_start "$LOAD_CONNS"
	say "HAProxy's sessions (scur of web,FRONTEND, of at most $DEMO_MAXCONN each), as vsnd scrapes them:"
	for i in 1 2; do
		sleep 1
		say "  +${i}s  slb-a $(demo_haproxy_scur slb-a)  slb-b $(demo_haproxy_scur slb-b)"
	done
	wait_switch overflow 10000 || die "web did not switch to overflow"
	say "vsnd switched web to ${B}overflow${N} $((SWITCH_MS - t_load)) ms after the load began ('for 2s')"
	reach_report overflow
	report "switch overflow $((SWITCH_MS - t_load))"
	show_events
	watch "$SETTLE_S"
	sa=$(demo_haproxy_scur slb-a) sb=$(demo_haproxy_scur slb-b)
	say "the long requests stay where they were (on_change: preserve): HAProxy holds slb-a $sa, slb-b $sb"
	report "preserved $sa $sb"

	PHASE=overflow-return
	step "The long requests end: the pool empties and web returns to normal"
	ev_mark
	LOG_MARK=$(mark "$VSND_LOG")
	demo_load_stop
	back_to_normal
}

scheduled() {
	local wait pps

	PHASE=scheduled
	wait=$((WINDOW_AT - $(date +%s)))
	if [ -n "$SCHEDULED_MS" ]; then
		step "Schedule: the window $WINDOW UTC opened $((-wait)) s ago; web runs scheduled"
	else
		step "Schedule: the window $WINDOW UTC opens in ${wait} s. Meanwhile, a look around"
		ev_mark
		LOG_MARK=$(mark "$VSND_LOG")
	fi
	say "What node1's forwarder runs (vsn-dpctl show): the SLBs' next hops, resolved by the agent"
	demo_dpctl node1 show | sed -n '/^slbs:/,$p' | indent
	say "slb-c's decap program (vsn-slb show): the IP-in-IP it took apart, for the prefix's clients"
	dns slb-c "$VSN_SLB" --pin-dir "$DEMO_PIN/slb-c" show |
		grep -E '^  (decap_v4|pass_not_encap|drop_not_allowed) ' | indent
	pps=$(vsnctl status -o json | jq -r '.services[0].traffic.pps // empty')
	say "web's traffic, summed over both nodes' counters (vsn status -o json): ${pps%.*} packets/s"
	if [ -z "$SCHEDULED_MS" ]; then
		wait_switch scheduled $(((WINDOW_AT - $(date +%s) + 10) * 1000)) ||
			die "web did not switch to scheduled"
		SCHEDULED_MS=$SWITCH_MS
		say "vsnd switched web to ${B}scheduled${N} $((SWITCH_MS - WINDOW_AT * 1000)) ms after $WINDOW's start"
		reach_report scheduled
		show_events
	fi
	report "switch scheduled $((SCHEDULED_MS - WINDOW_AT * 1000))"
	watch "$SETTLE_S"
}

# What the client got. A request is lost when no SLB answered it (no answer within 1 s, or an
# HTTP error): only between slb-a's failure and the failover's switch (plus the 2 s a request may
# still be under way) may that happen.
FAIL_FROM=0 FAIL_TO=0
summary() {
	local lost in out

	PHASE=all
	step "What the client got, request by request ($S/traffic.log)"
	lost=$(awk '$3 == "none" || $3 ~ /^http-/' "$S/traffic.log")
	in=$(awk -v f="$FAIL_FROM" -v t="$FAIL_TO" '$1 >= f && $1 < t' <<<"$lost" | grep -c .)
	out=$(awk -v f="$FAIL_FROM" -v t="$FAIL_TO" '$1 < f || $1 >= t' <<<"$lost" | grep -c .)
	say "$(wc -l <"$S/traffic.log") requests; answered by: $(awk '{ print $3 }' "$S/traffic.log" |
		sort | uniq -c | awk '{ printf "%s=%d ", $2, $1 }')"
	if [ -n "$lost" ]; then
		say "not answered by an SLB: $in while slb-a failed (before vsnd switched), $out at other times:"
		awk -v t="$T_START_MS" '{ printf "      +%d ms %s %s\n", $1 - t, $2, $3 }' <<<"$lost"
	else
		say "every request was answered, also while slb-a failed"
	fi
	report "lost_in_failover $in"
	report "lost_elsewhere $out"
	report "switches $(grep -E ' vsnd configuration: service=web from=[^ ]+ to=[^ ]+ reason=' "$VSND_LOG" |
		sed -E 's/.* from=([^ ]+) to=([^ ]+) .*/\1>\2/' | paste -sd ' ')"
	op status | sed -n '1,5p'
}

explore() {
	step "The demo keeps running. Explore it:"
	cat <<EOF
    The vsn CLI (it talks to vsnd's API in namespace ${DEMO_PREFIX}ctl):
      . $S/env          # sets VSN_SERVER, VSN_CA, VSN_TOKEN and a 'vsn' function
      vsn status
      vsn events
      vsn events --follow
      vsn get state
      vsn history
      vsn pin web overflow; vsn unpin web
      vsn drain slb-b; vsn undrain slb-b
    or, without the env file:
      VSN_SERVER=https://$DEMO_API VSN_CA=$S/ctl/ca.crt VSN_TOKEN=\$(awk '\$1 == "admin" { print \$2 }' $S/tokens) \\
        nsenter --net=/run/netns/${DEMO_PREFIX}ctl $DEMO_VSN status
    The client's traffic keeps running; count the answers:   tail -f $S/traffic.log
    A request of your own:     nsenter --net=/run/netns/${DEMO_PREFIX}client curl http://$DEMO_VIP/
    A node's forwarder:        nsenter --net=/run/netns/${DEMO_PREFIX}node1 $VSN_DPCTL --pin-dir $DEMO_PIN/node1 show
    slb-c's decap counters:    nsenter --net=/run/netns/${DEMO_PREFIX}slb-c $VSN_SLB --pin-dir $DEMO_PIN/slb-c show
    Fail slb-a again:          kill \$(cat $S/slb-a/nginx/nginx.pid)
    Logs:                      $S/vsnd.log, $S/node1.log, $S/node2.log
    The document applied:      $S/demo.yaml (its window $WINDOW UTC; web returns to normal after it)
    Remove everything:         tests/netns/demo.sh --clean
EOF
}

# On every exit but --keep's success: say why when it is not a success, then remove everything
# (a failure with --keep stays, to be looked at).
KEEP=0
demo_exit() {
	local rc=$?

	report "exit $rc"
	case $rc in
	0) ;;
	130 | 143) printf '\n%sInterrupted: removing the demo.%s\n' "$B" "$N" ;;
	*)
		printf '\n%sThe demo failed (exit %s).%s vsnd logged last:\n' "$R" "$rc" "$N"
		tail -n 12 "$VSND_LOG" 2>/dev/null | sed 's/^/    /'
		if [ "$KEEP" = 1 ]; then
			say "--keep: it stays for a look (the commands below); then tests/netns/demo.sh --clean"
			explore
			return
		fi
		say "Removing it. Run it with --keep to look around."
		;;
	esac
	demo_cleanup
}

usage() { sed -n '4,16p' "$0" | sed 's/^# \{0,1\}//'; }

main() {
	local t

	while [ $# -gt 0 ]; do
		case "$1" in
		--keep) KEEP=1 ;;
		--clean)
			[ "$(id -u)" -eq 0 ] || { echo "demo.sh --clean needs root" >&2 && exit 1; }
			if demo_clean; then echo "vsn demo removed"; else echo "no vsn demo to remove"; fi
			exit 0
			;;
		--report)
			REPORT=${2:?--report needs a file}
			: >"$REPORT" || exit 1
			shift
			;;
		-h | --help) usage && exit 0 ;;
		*) usage >&2 && exit 2 ;;
		esac
		shift
	done
	vsn_require haproxy jq setsid pgrep
	vsn_built "$DEMO_VSND" "$DEMO_VSN_NODE" "$DEMO_VSN" "$VSN_SLB"
	if [ -e "$DEMO_STATE" ] || [ -e "$DEMO_PIN" ] || ip netns list | grep -q "^$DEMO_PREFIX"; then
		echo "A demo left by --keep is still up; removing it first."
		demo_clean
	fi
	vsn_bpffs_ensure || exit 1
	vsn_state_init "$DEMO_STATE" || exit 1
	S=$DEMO_STATE
	vsn_register pindir "$DEMO_PIN"
	mkdir -p "$DEMO_PIN" || exit 1
	vsn_trap_cleanup
	trap demo_exit EXIT
	T_START_MS=$(now_ms)

	step "vsn demo: one virtual service, two network nodes behind ECMP, three SLBs, four configurations"
	build
	controller
	apply
	normal
	failover
	overflow
	scheduled
	summary
	step "Done in $((SECONDS - T0)) s."
	report "seconds $((SECONDS - T0))"
	if [ "$KEEP" = 1 ]; then
		trap - EXIT INT TERM HUP
		report "exit 0"
		explore
	else
		say "Removing the namespaces, processes, pins and files (--keep leaves them)."
	fi
}

main "$@"

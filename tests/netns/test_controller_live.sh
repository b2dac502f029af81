#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# vsnd in controller mode end to end, with real processes (issue 7): vsnd with a SQLite store
# and its REST API, two detached agents (vsn-node: no interfaces, each with a pin dir and a state
# dir of its own), and the `vsn` commands an operator types. Everything runs in one private
# namespace, over its loopback. What a node runs is read from its pinned forwarder with
# 'vsn-dpctl show', independently of what vsnd says.
# Root only (exit 77 otherwise). Prints TAP lines and closes with "N passed, M failed".
#
#  +-------------------------------------------------------------------------------------------+
#  | ns vsnc<PID>-x (lo up, nothing else)                                                      |
#  |                                                                                           |
#  |  vsn (CLI), curl --- HTTPS 127.0.0.1:7443, bearer tokens ---> vsnd --db STATE/vsn.db       |
#  |                                                                ^   ^                      |
#  |                             mutual TLS 127.0.0.1:7700          |   |                      |
#  |                  +---------------------------------------------+   +-------------+        |
#  |                  |                                                               |        |
#  |  vsn-node node1 (detached)                          vsn-node node2 (detached, max_policies 8)
#  |   pin /sys/fs/bpf/vsn-test-ctl-PID-node1             pin /sys/fs/bpf/vsn-test-ctl-PID-node2
#  |   state STATE/node1-state                            state STATE/node2-state             |
#  +-------------------------------------------------------------------------------------------+
#
# The document (write_doc): nodes node1 and node2; SLBs slb-a and slb-b; pool primary (slb-a
# weight 2, slb-b); service web (192.0.2.10 tcp/80, tcp/443) on node1 only and service dns
# (192.0.2.53 udp/53) on node2 only, both to the pool, so that each node's set holds both SLBs.
# node2's forwarder holds 8 policies: a dns service with more ports is refused by node2 (Nack).
#
# Checks, in order (each builds on the state the previous ones left):
#   apply_and_status          vsn apply prints revision 1; status: both nodes connected and in
#                             sync; node1 runs web and not dns, node2 dns and not web
#   diff_history_rollback     diff names what changes and changes nothing; apply; history has 2
#                             revisions with authors and messages; rollback 1 is revision 3 and
#                             node1 runs revision 1's policies again
#   validation_errors         one bad document per error class: validate and apply (HTTP 400)
#                             give the same FILE:LINE:COLUMN; nothing changes
#   tokens_and_roles          no token, an unknown token: 401; read: status, history, diff, but
#                             apply, drain: 403
#   nack_path                 node2 refuses a set too big for it (one-phase push): status says
#                             failing with the node's error, sent once; node1 unaffected and
#                             still gets its own change; a fixed document brings node2 back
#   abort_path                a change to both nodes that node2 refuses: the two-phase rollout
#                             aborts (event rollout-aborted); both nodes keep their generation
#   abort_status_names_cause  after that abort, status and events show node2's own refusal
#   pin_and_unpin        vsn pin runs another configuration at once, unpin goes back
#   condition_switch     a node_up condition with for switches web (its event, once node1
#                        acknowledged, names node2 as not connected), the dwell holds the
#                        return, which goes to both nodes as one two-phase rollout
#   abort_survives_reconnect  node1 restarted after the abort is sent nothing: the aborted set stays aborted
#                             (one Nack, its code and message)
#   drain                     vsn drain slb-a: both forwarders have it in drain within 1 s; an
#                             event; undrain reverses it
#   metrics                   GET /metrics, no token: applies, nodes connected, rollout skew,
#                             active configuration, Nacks
#   switch_abort_falls_back   node2 stopped: a switch's rollout aborts; node1 still gets the
#                             switch on its own, node2 once it runs again; its event waits
#   kill9_during_rollout_then_restart
#                             kill -9 of vsnd right after an apply to both nodes; restarted on
#                             the same store, both nodes run the generations it stored; the
#                             store passes PRAGMA integrity_check
#   clean_stop                SIGTERM stops all three with status 0; no sanitizer report
#
#   VSND=build/san/vsnd VSN_NODE=build/san/vsn-node tests/netns/test_controller_live.sh
#                                               sanitizer builds (also VSN, VSN_DPCTL)
#   VSN_VERBOSE=1 ...                           narrates cleanup
#   VSN_LOG_DIR=DIR ...                         keeps the logs, documents and outputs
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
VSN_NODE=$(abs "${VSN_NODE:-$VSN_ROOT/build/vsn-node}")
VSND=$(abs "${VSND:-$VSN_ROOT/build/vsnd}")
VSN=$(abs "${VSN:-$VSN_ROOT/build/vsn}")

NS=vsnc$$-x
PORT=7700     # nodes to vsnd
API_PORT=7443 # the REST API (the CLI's default port)
CTL_NAME=ctl.vsn.test
NODES='node1 node2'
SLB_A=10.20.0.10
SLB_B=10.20.0.11
VIP_WEB=192.0.2.10
VIP_DNS=192.0.2.53
NODE2_MAX_POLICIES=8
# 11 ports: more policies than node2 holds.
DNS_MANY='udp/53, udp/5301, udp/5302, udp/5303, udp/5304, udp/5305, udp/5306, udp/5307, udp/5308, udp/5309, udp/5310'

S=''         # $VSN_STATE_DIR
VSND_LOG='' DB=''
VSND_PID=''
declare -A NODE_PID=() PIN=()
ADMIN_TOKEN='' READ_TOKEN=''
APPLIES=0 # documents vsnd accepted (applies and rollbacks), for vsn_applies_total

# ---- vsnd and the agents ----

# vsnd_start: vsnd in controller mode on the run's store, once it listens for nodes.
vsnd_start() {
	local m

	m=$(mark "$VSND_LOG")
	bg_in "$NS" "$VSND_LOG" "$VSND" --listen "127.0.0.1:$PORT" --ca "$S/ctl/ca.crt" \
		--cert "$S/ctl/$CTL_NAME.crt" --key "$S/ctl/$CTL_NAME.key" --db "$DB" \
		--api "127.0.0.1:$API_PORT" --tokens "$S/tokens" --eval-interval-ms 200 \
		--dwell-ms 2000
	VSND_PID=$BG_PID
	wait_log "$VSND_LOG" "$m" ' vsnd start: listen=' 5000
}

vsnd_kill() { # SIGNAL
	[ -n "$VSND_PID" ] || return 0
	stop_pid "$VSND_PID" "$1"
	VSND_PID=''
}

# write_node_cfg NODE [EXTRA_YAML]: a detached agent (no interfaces), small tables.
write_node_cfg() {
	cat >"$S/$1.yaml" <<EOF
node: $1
controller: 127.0.0.1:$PORT
tls:
  ca: $S/$1/ca.crt
  cert: $S/$1/$1.crt
  key: $S/$1/$1.key
state_dir: $S/$1-state
pin_dir: ${PIN[$1]}
max_flows: 1024
stats_interval_ms: 500
keepalive_interval_ms: 1000
# vsnd sends a Keepalive only after 5 s without sending anything: the timeout must exceed that.
keepalive_timeout_ms: 7000
reconnect_min_ms: 50
reconnect_max_ms: 500
${2:-}
EOF
}

agent_start() { # NODE
	bg_in "$NS" "$S/$1.log" "$VSN_NODE" --config "$S/$1.yaml"
	NODE_PID[$1]=$BG_PID
}

agent_kill() { # NODE SIGNAL
	[ -n "${NODE_PID[$1]:-}" ] || return 0
	stop_pid "${NODE_PID[$1]}" "$2"
	NODE_PID[$1]=''
}

# ---- the CLI, the forwarders, JSON ----

# cli ROLE ARGS: vsn ARGS in the namespace with ROLE's token (admin, read, none, or a token
# itself); stdout in OUT, stderr in ERR, exit status in RC.
OUT='' ERR='' RC=0
cli() {
	local role=$1 tok

	shift
	case "$role" in
	admin) tok=$ADMIN_TOKEN ;;
	read) tok=$READ_TOKEN ;;
	none) tok='' ;;
	*) tok=$role ;;
	esac
	env -u VSN_TOKEN ${tok:+VSN_TOKEN=$tok} VSN_CA="$S/ctl/ca.crt" \
		VSN_SERVER="https://127.0.0.1:$API_PORT" USER=tester \
		nsenter --net="/run/netns/$NS" "$VSN" "$@" >"$S/cli.out" 2>"$S/cli.err"
	RC=$?
	OUT=$(cat "$S/cli.out")
	ERR=$(cat "$S/cli.err")
	echo "\$ vsn $* -> $RC" >>"$S/cli.log"
	cat "$S/cli.out" "$S/cli.err" >>"$S/cli.log"
	return 0
}

# cli_ok ROLE ARGS: cli, which must exit 0.
cli_ok() {
	cli "$@"
	[ "$RC" -eq 0 ] || vsn_fail "vsn ${*:2} exited $RC: $OUT $ERR"
}

# apply_ok FILE EXPECTED_OUTPUT [ARGS]: vsn apply as admin; its output must be EXPECTED_OUTPUT.
apply_ok() {
	local f=$1 want=$2

	shift 2
	cli_ok admin apply -f "$f" "$@" || return 1
	APPLIES=$((APPLIES + 1))
	[ "$OUT" = "$want" ] || vsn_fail "vsn apply printed '$OUT', not '$want'"
}

# show NODE: 'vsn-dpctl show' of NODE's forwarder, in SHOW.
SHOW=''
show() {
	SHOW=$(vsn_ns "$NS" "$VSN_DPCTL" --pin-dir "${PIN[$1]}" show 2>&1)
}

# gen_of NODE: the generation NODE's forwarder runs.
gen_of() {
	show "$1"
	awk '/^generation / { print $2 + 0; exit }' <<<"$SHOW"
}

# body_of NODE: what NODE's forwarder runs, without the generation and its time.
body_of() {
	show "$1"
	sed -n '/^slbs:/,$p' <<<"$SHOW"
}

expect_show() { # NODE TEXT
	show "$1"
	grep -qF -- "$2" <<<"$SHOW" || vsn_fail "$1: expected '$2' in show: $SHOW"
}

expect_no_show() { # NODE TEXT
	show "$1"
	! grep -qF -- "$2" <<<"$SHOW" || vsn_fail "$1: '$2' should not be in show: $SHOW"
}

# jflat: the CLI's indented JSON (-o json) on stdin as 'path=value' lines, the path's parts
# joined by dots, array elements by index (nodes.0.name=node2); strings without their quotes.
jflat() {
	awk '
		function path(   p, i) {
			p = ""
			for (i = 2; i <= d; i++)
				p = p k[i] "."
			return p
		}
		{
			l = $0
			sub(/^[ \t]+/, "", l)
			sub(/,$/, "", l)
			key = ""
			if (match(l, /^"([^"\\]|\\.)*": /)) {
				key = substr(l, 2, RLENGTH - 4)
				l = substr(l, RLENGTH + 1)
			} else if (d > 0 && arr[d]) {
				key = idx[d]++
			}
			if (l == "{" || l == "[") {
				d++
				k[d] = key
				arr[d] = l == "["
				idx[d] = 0
				next
			}
			if (l == "}" || l == "]") {
				d--
				next
			}
			if (l ~ /^".*"$/)
				l = substr(l, 2, length(l) - 2)
			print path() key "=" l
		}'
}

# jget FLAT PATH: the value at PATH.
jget() { awk -v p="$2=" 'index($0, p) == 1 { print substr($0, length(p) + 1); exit }' <<<"$1"; }

# jcount FLAT ARRAY: how many elements ARRAY has.
jcount() {
	awk -v p="$2." 'index($0, p) == 1 { s = substr($0, length(p) + 1); sub(/\..*/, "", s)
		sub(/=.*/, "", s); if (s + 1 > n) n = s + 1 } END { print n + 0 }' <<<"$1"
}

# jfind FLAT ARRAY FIELD VALUE: the index of the first element of ARRAY whose FIELD is VALUE.
jfind() {
	awk -v p="$2." -v f=".$3=$4" 'index($0, p) == 1 { s = substr($0, length(p) + 1)
		i = s; sub(/\..*/, "", i); if (substr(s, length(i) + 1) == f) { print i; found = 1; exit } }
		END { exit !found }' <<<"$1"
}

# status_json: vsn status -o json as admin, flattened, in ST.
ST=''
status_json() {
	cli admin status -o json
	ST=$(jflat <<<"$OUT")
	[ "$RC" -eq 0 ]
}

# node_st NODE FIELD: a field of NODE in ST.
node_st() {
	local i

	i=$(jfind "$ST" nodes name "$1") || return 1
	jget "$ST" "nodes.$i.$2"
}

# in_sync NODE: in ST, connected, in sync, running the generation it should (not 0).
in_sync() {
	local d r

	d=$(node_st "$1" desired_generation) && r=$(node_st "$1" running_generation) &&
		[ "$(node_st "$1" connected)" = true ] && [ "$(node_st "$1" sync)" = in-sync ] &&
		[ "$d" = "$r" ] && [ "${d:-0}" -gt 0 ]
}

# wait_in_sync TIMEOUT_MS: poll the status (every 50 ms) until both nodes are in sync.
wait_in_sync() {
	local t0 n ok

	t0=$(now_us)
	while :; do
		ok=1
		if status_json; then
			for n in $NODES; do in_sync "$n" || ok=0; done
		else
			ok=0
		fi
		[ "$ok" = 1 ] && return 0
		if [ "$(ms_since "$t0")" -ge "$1" ]; then
			vsn_fail "the nodes are not both in sync after $1 ms; status: $OUT $ERR"
			return 1
		fi
		sleep 0.05
	done
}

# next_rev: the revision the next accepted apply gets (the newest one's number + 1).
next_rev() {
	local f

	cli read history --limit 1 -o json
	f=$(jflat <<<"$OUT")
	echo $(($(jget "$f" revisions.0.revision | grep . || echo 0) + 1))
}

# converge FILE: apply FILE and wait for both nodes in sync (where a check starts from).
converge() {
	cli_ok admin apply -f "$1" -m converge || return 1
	APPLIES=$((APPLIES + 1))
	wait_in_sync 5000
}

# last_event_id: the id of the newest event (0: none).
last_event_id() {
	local f

	cli read events --limit 1 -o json
	f=$(jflat <<<"$OUT")
	jget "$f" events.0.id | grep . || echo 0
}

# events_since ID: the events after ID, flattened, in EV.
EV=''
events_since() {
	cli_ok read events --since "$1" --limit 1000 -o json || return 1
	EV=$(jflat <<<"$OUT")
}

# wait_event SINCE TYPE MS: until an event of TYPE after SINCE is stored (EV, flattened; I its
# index), at most MS ms.
I=''
wait_event() {
	local t0

	t0=$(now_us)
	while :; do
		events_since "$1" || return 1
		I=$(jfind "$EV" events type "$2") && return 0
		[ "$(ms_since "$t0")" -lt "$3" ] || vsn_fail "no $2 event after $1 in $3 ms: $EV" ||
			return 1
		sleep 0.05
	done
}

# node_nack_error NODE MARK: the error text of NODE's agent's first nack after MARK.
node_nack_error() {
	since "$S/$1.log" "$2" | grep ' vsn-node nack: ' | head -n 1 | sed -n 's/.* error="\(.*\)"$/\1/p'
}

# ---- the documents ----

# write_doc FILE [WEB_PORTS] [DNS_PORTS] [WEIGHT_OF_SLB_A]. The line numbers matter:
# validation_errors expects its errors at fixed positions of this text.
write_doc() {
	cat >"$1" <<EOF
nodes:
  - name: node1
  - name: node2
slbs:
  - name: slb-a
    address: $SLB_A
  - name: slb-b
    address: $SLB_B
pools:
  - name: primary
    members:
      - {slb: slb-a, weight: ${4:-2}}
      - {slb: slb-b}
virtual_services:
  - name: web
    vip: $VIP_WEB
    ports: [${2:-tcp/80, tcp/443}]
    nodes: [node1]
    configurations:
      - name: normal
        policies:
          - destination: primary
      - name: spare
        priority: 10
        when: 'not healthy(slb slb-a)'
        policies:
          - destination: slb-b
  - name: dns
    vip: $VIP_DNS
    ports: [${3:-udp/53}]
    nodes: [node2]
    configurations:
      - name: normal
        policies:
          - destination: primary
EOF
}

# ---- the checks ----

apply_and_status() {
	local t0 ms n g

	write_doc "$S/doc1.yaml"
	t0=$(now_us)
	apply_ok "$S/doc1.yaml" "revision 1; changed nodes: node1, node2" -m "web and dns" \
		--author alice@test || return 1
	wait_in_sync 3000 || return 1
	ms=$(ms_since "$t0")
	[ "$(jget "$ST" revision)" = 1 ] || vsn_fail "status: revision $(jget "$ST" revision)" ||
		return 1
	# Two nodes changed: a two-phase rollout, committed.
	grep -qE ' vsnd rollout: id=[0-9]+ result=committed nodes=2 ' "$VSND_LOG" ||
		vsn_fail "no committed two-phase rollout in vsnd's log" || return 1
	# Each node runs only its own service.
	expect_show node1 "$VIP_WEB tcp/80 -> pool 1 " && expect_show node1 "$VIP_WEB tcp/443 -> pool 1 " &&
		expect_no_show node1 "$VIP_DNS" &&
		expect_show node2 "$VIP_DNS udp/53 -> pool 1 " && expect_no_show node2 "$VIP_WEB" ||
		return 1
	for n in $NODES; do
		g=$(gen_of "$n")
		[ "$g" = "$(node_st "$n" running_generation)" ] ||
			vsn_fail "$n's forwarder runs generation $g, status says $(node_st "$n" running_generation)" ||
			return 1
	done
	body_of node1 >"$S/node1.rev1.show"
	vsn_note "revision 1 applied; both nodes in sync $ms ms after the apply began (status polled every 50 ms); node1 generation $(gen_of node1), node2 generation $(gen_of node2)"
}

diff_history_rollback() {
	local g1 g2 d1 d2 f t0 ms n1_rev2

	write_doc "$S/doc2.yaml" 'tcp/80, tcp/443, tcp/8080'
	g1=$(gen_of node1)
	g2=$(gen_of node2)
	status_json || return 1
	d1=$(node_st node1 desired_generation)
	d2=$(node_st node2 desired_generation)

	# diff: as the read role, it changes nothing.
	cli_ok read diff -f "$S/doc2.yaml" -o json || return 1
	f=$(jflat <<<"$OUT")
	[ "$(jget "$f" revision)" = 1 ] && [ "$(jcount "$f" changes)" = 1 ] &&
		[ "$(jget "$f" changes.0.kind)" = service ] && [ "$(jget "$f" changes.0.name)" = web ] &&
		[ "$(jget "$f" changes.0.change)" = changed ] ||
		vsn_fail "diff: expected one change, service web changed: $OUT" || return 1
	[ "$(jcount "$f" nodes)" = 1 ] && [ "$(jget "$f" nodes.0.node)" = node1 ] &&
		[ "$(jget "$f" nodes.0.policies.added)" = 1 ] &&
		[ "$(jget "$f" nodes.0.policies.removed)" = 0 ] &&
		[ "$(jget "$f" nodes.0.policies.changed)" = 0 ] ||
		vsn_fail "diff: expected node1 alone, one policy added: $OUT" || return 1
	cli_ok read diff -f "$S/doc2.yaml" || return 1
	echo "vsn diff:"
	echo "$OUT"
	grep -qE '^service +web +changed$' <<<"$OUT" && grep -qE '^node1 +\+1 -0 ~0 ' <<<"$OUT" &&
		! grep -q node2 <<<"$OUT" || vsn_fail "diff's table does not say so: $OUT" || return 1
	status_json || return 1
	[ "$(gen_of node1)" = "$g1" ] && [ "$(gen_of node2)" = "$g2" ] &&
		[ "$(node_st node1 desired_generation)" = "$d1" ] &&
		[ "$(node_st node2 desired_generation)" = "$d2" ] && [ "$(jget "$ST" revision)" = 1 ] ||
		vsn_fail "the diff changed something: generations $(gen_of node1)/$(gen_of node2) (were $g1/$g2), status $OUT" ||
		return 1

	apply_ok "$S/doc2.yaml" "revision 2; changed nodes: node1" -m "web on 8080 too" \
		--author bob@test || return 1
	wait_in_sync 3000 || return 1
	expect_show node1 "$VIP_WEB tcp/8080 -> pool 1 " || return 1
	n1_rev2=$(gen_of node1)
	[ "$n1_rev2" -gt "$g1" ] && [ "$(gen_of node2)" = "$g2" ] ||
		vsn_fail "generations after revision 2: node1 $n1_rev2 (was $g1), node2 $(gen_of node2) (was $g2)" ||
		return 1

	cli_ok read history -o json || return 1
	f=$(jflat <<<"$OUT")
	[ "$(jcount "$f" revisions)" = 2 ] &&
		[ "$(jget "$f" revisions.0.revision)" = 2 ] &&
		[ "$(jget "$f" revisions.0.author)" = bob@test ] &&
		[ "$(jget "$f" revisions.0.message)" = "web on 8080 too" ] &&
		[ "$(jget "$f" revisions.1.revision)" = 1 ] &&
		[ "$(jget "$f" revisions.1.author)" = alice@test ] &&
		[ "$(jget "$f" revisions.1.message)" = "web and dns" ] ||
		vsn_fail "history: expected revisions 2 (bob) and 1 (alice): $OUT" || return 1

	t0=$(now_us)
	cli_ok admin rollback 1 --author carol@test || return 1
	APPLIES=$((APPLIES + 1))
	[ "$OUT" = "revision 3; changed nodes: node1" ] ||
		vsn_fail "vsn rollback printed '$OUT'" || return 1
	wait_in_sync 3000 || return 1
	ms=$(ms_since "$t0")
	# Revision 1's content again, at a new generation.
	body_of node1 | diff -u "$S/node1.rev1.show" - ||
		vsn_fail "node1 does not run revision 1's set again" || return 1
	[ "$(gen_of node1)" -gt "$n1_rev2" ] && [ "$(gen_of node2)" = "$g2" ] ||
		vsn_fail "generations after the rollback: node1 $(gen_of node1) (revision 2: $n1_rev2), node2 $(gen_of node2) (was $g2)" ||
		return 1
	cli_ok read history -o json || return 1
	f=$(jflat <<<"$OUT")
	[ "$(jcount "$f" revisions)" = 3 ] && [ "$(jget "$f" revisions.0.revision)" = 3 ] &&
		[ "$(jget "$f" revisions.0.author)" = carol@test ] &&
		[ "$(jget "$f" revisions.0.message)" = "rollback to revision 1" ] ||
		vsn_fail "history after the rollback: $OUT" || return 1
	cli_ok read get state || return 1
	[ "$OUT" = "$(cat "$S/doc1.yaml")" ] ||
		vsn_fail "get state is not revision 1's document: $OUT" || return 1
	vsn_note "diff changed nothing; revision 2 on node1 only; rollback 1 -> revision 3, node1 back on revision 1's policies (generation $(gen_of node1)) $ms ms after the rollback began"
}

# The bad documents, one per error class: NAME, the sed script that breaks write_doc's text, and
# where the error must be (LINE:COLUMN, one per error), as ' ; '-separated fields.
BAD_DOCS=(
	"unknown_field ; 6a\\    colour: red ; 7:5"
	"unknown_reference ; 13s/slb-b/slb-c/ ; 13:15"
	"duplicate_name ; 28s/dns/web/ ; 28:5"
	"address_claimed_twice ; 29s/$VIP_DNS/$VIP_WEB/;30s#udp/53#tcp/443, udp/53# ; 30:13"
	"prefix_host_bits ; 29s,$VIP_DNS,$VIP_DNS/24, ; 29:10"
	"bad_port ; 30s,udp/53,udp/70000, ; 30:13"
	"bad_weight ; 12s/weight: 2/weight: 0/ ; 12:30"
	"unparsable_condition ; \$a\\      - name: overflow\\n        when: 'load(pool primary) >> 0.8'\\n        policies: [{destination: primary}] ; 37:36"
)

# details FILE TEXT: TEXT's lines that are FILE:LINE:COLUMN: message.
details() { grep -F -- "$1:" <<<"$2" | grep -E -- "^.+:[0-9]+:[0-9]+: "; }

validation_errors() {
	local e name script want got v a f g1 g2 rev n=0 bad=0 mv

	write_doc "$S/base.yaml"
	g1=$(gen_of node1)
	g2=$(gen_of node2)
	cli_ok read history -o json || return 1
	rev=$(jcount "$(jflat <<<"$OUT")" revisions)
	mv=$(mark "$VSND_LOG")
	mkdir -p "$S/bad"
	for e in "${BAD_DOCS[@]}"; do
		name=${e%% ; *}
		want=${e##* ; }
		script=${e#"$name ; "}
		script=${script%" ; $want"}
		f=$S/bad/$name.yaml
		sed -e "$script" "$S/base.yaml" >"$f"
		n=$((n + 1))
		# Offline.
		v=$("$VSN" validate "$f" 2>&1)
		RC=$?
		got=$(details "$f" "$v" | cut -d: -f2,3 | tr '\n' ' ')
		echo "$name: validate exit $RC: $(details "$f" "$v" | sed "s|^$S/||")"
		if [ "$RC" -ne 1 ] || [ "$got" != "$want " ]; then
			vsn_fail "  $name: expected exit 1 and $want, got exit $RC: $v"
			bad=1
			continue
		fi
		# On the controller: HTTP 400, the same errors.
		cli admin apply -f "$f" -m "must be refused"
		a=$(details "$f" "$ERR")
		if [ "$RC" -ne 1 ] || ! head -n 1 <<<"$ERR" | grep -qF '(HTTP 400)' ||
			[ "$a" != "$(details "$f" "$v")" ]; then
			vsn_fail "  $name: apply: expected exit 1, HTTP 400 and validate's errors; got exit $RC: $OUT $ERR"
			bad=1
		fi
	done
	[ "$bad" = 0 ] || return 1
	[ "$(count_log "$VSND_LOG" "$mv" ' vsnd api: method=POST path=/v1/apply .* status=400 ')" = "$n" ] ||
		vsn_fail "vsnd did not log $n applies answered 400: $(since "$VSND_LOG" "$mv")" || return 1
	# Nothing changed.
	cli_ok read history -o json || return 1
	[ "$(jcount "$(jflat <<<"$OUT")" revisions)" = "$rev" ] ||
		vsn_fail "history changed: $OUT" || return 1
	[ "$(gen_of node1)" = "$g1" ] && [ "$(gen_of node2)" = "$g2" ] ||
		vsn_fail "generations changed: $(gen_of node1)/$(gen_of node2), were $g1/$g2" || return 1
	[ "$(count_log "$VSND_LOG" "$mv" ' vsnd (push|apply|rollout): ')" = 0 ] ||
		vsn_fail "vsnd pushed or applied: $(since "$VSND_LOG" "$mv")" || return 1
	vsn_note "$n bad documents: validate and apply (HTTP 400) agree on every position; history and generations unchanged"
}

tokens_and_roles() {
	local code hdr g1 g2 f rev mv

	g1=$(gen_of node1)
	g2=$(gen_of node2)
	mv=$(mark "$VSND_LOG")
	# No token: 401 from the server; the CLI refuses to send a request without one (exit 2).
	code=$(vsn_ns "$NS" curl -sS -o "$S/noauth.body" -D "$S/noauth.hdr" -w '%{http_code}' \
		--cacert "$S/ctl/ca.crt" "https://127.0.0.1:$API_PORT/v1/status")
	hdr=$(tr -d '\r' <"$S/noauth.hdr" | grep -i '^WWW-Authenticate:')
	echo "no token: HTTP $code, $hdr, $(cat "$S/noauth.body")"
	[ "$code" = 401 ] && grep -qF 'Bearer realm="vsn"' <<<"$hdr" ||
		vsn_fail "no token: expected 401 with WWW-Authenticate: Bearer" || return 1
	cli none status
	[ "$RC" = 2 ] && grep -q 'no token' <<<"$ERR" ||
		vsn_fail "vsn status without a token: exit $RC: $ERR" || return 1
	# An unknown token.
	code=$(vsn_ns "$NS" curl -sS -o /dev/null -D "$S/badauth.hdr" -w '%{http_code}' \
		--cacert "$S/ctl/ca.crt" -H "Authorization: Bearer x$READ_TOKEN" \
		"https://127.0.0.1:$API_PORT/v1/history")
	hdr=$(tr -d '\r' <"$S/badauth.hdr" | grep -i '^WWW-Authenticate:')
	[ "$code" = 401 ] && grep -qF 'error="invalid_token"' <<<"$hdr" ||
		vsn_fail "unknown token: HTTP $code, $hdr" || return 1
	cli "x$ADMIN_TOKEN" status
	[ "$RC" = 1 ] && grep -qF '(HTTP 401)' <<<"$ERR" ||
		vsn_fail "vsn status with an unknown token: exit $RC: $ERR" || return 1
	echo "unknown token: $ERR"
	# The read role reads.
	cli_ok read status && cli_ok read history && cli_ok read diff -f "$S/doc1.yaml" || return 1
	cli_ok read history -o json || return 1
	rev=$(jget "$(jflat <<<"$OUT")" revisions.0.revision)
	# ... and may not change anything.
	cli read apply -f "$S/doc2.yaml" -m "read may not"
	[ "$RC" = 1 ] && grep -qF '(HTTP 403)' <<<"$ERR" ||
		vsn_fail "vsn apply as read: exit $RC: $ERR" || return 1
	echo "read applies: $ERR"
	cli read drain slb-a
	[ "$RC" = 1 ] && grep -qF '(HTTP 403)' <<<"$ERR" ||
		vsn_fail "vsn drain as read: exit $RC: $ERR" || return 1
	echo "read drains: $ERR"
	cli_ok read history -o json || return 1
	[ "$(jget "$(jflat <<<"$OUT")" revisions.0.revision)" = "$rev" ] ||
		vsn_fail "a revision was added: $OUT" || return 1
	status_json || return 1
	f=$(jfind "$ST" slbs name slb-a) && [ "$(jget "$ST" "slbs.$f.state")" = up ] ||
		vsn_fail "slb-a is not up: $OUT" || return 1
	[ "$(gen_of node1)" = "$g1" ] && [ "$(gen_of node2)" = "$g2" ] ||
		vsn_fail "generations changed" || return 1
	# vsnd's access log: the refusals with their status and role.
	[ "$(count_log "$VSND_LOG" "$mv" ' vsnd api: .* status=401 ')" -ge 3 ] &&
		[ "$(count_log "$VSND_LOG" "$mv" ' vsnd api: method=POST .* status=403 role=read ')" = 2 ] ||
		vsn_fail "vsnd's access log: $(since "$VSND_LOG" "$mv" | grep ' api: ')" || return 1
	[ "$(count_log "$VSND_LOG" "$mv" ' vsnd (push|apply|slb-state): ')" = 0 ] ||
		vsn_fail "vsnd changed something: $(since "$VSND_LOG" "$mv")" || return 1
}

nack_path() {
	local g1 g2 mv m2 gen nerr t0 ms err i n

	g1=$(gen_of node1)
	g2=$(gen_of node2)
	mv=$(mark "$VSND_LOG")
	m2=$(mark "$S/node2.log")
	write_doc "$S/nack.yaml" 'tcp/80, tcp/443' "$DNS_MANY"
	apply_ok "$S/nack.yaml" "revision $(next_rev); changed nodes: node2" -m "dns on many ports" || return 1
	# One node changed: pushed at once (hold=false), no rollout.
	wait_log "$VSND_LOG" "$mv" ' vsnd push: node=node2 generation=[0-9]+ .*hold=false$' 2000 ||
		return 1
	gen=$(since "$VSND_LOG" "$mv" | sed -n 's/.* vsnd push: node=node2 generation=\([0-9]*\) .*/\1/p' | head -n 1)
	! since "$VSND_LOG" "$mv" | grep -qE ' vsnd (rollout|push: node=node1)' ||
		vsn_fail "a rollout or a push to node1: $(since "$VSND_LOG" "$mv")" || return 1
	wait_log "$S/node2.log" "$m2" " vsn-node nack: generation=$gen " 2000 &&
		wait_log "$VSND_LOG" "$mv" " vsnd nack: node=node2 generation=$gen " 2000 || return 1
	t0=$(now_us)
	nerr=$(node_nack_error node2 "$m2")
	echo "node2: $(since "$S/node2.log" "$m2" | grep ' nack: ')"
	echo "vsnd:  $(since "$VSND_LOG" "$mv" | grep ' nack: ')"
	[ -n "$nerr" ] || vsn_fail "no error text in node2's nack line" || return 1
	# The status: node2 failing with the node's own words; node1 untouched.
	for i in $(seq 1 40); do
		status_json && [ "$(node_st node2 sync)" = failing ] && break
		sleep 0.05
	done
	err=$(node_st node2 last_error)
	echo "status of node2: sync $(node_st node2 sync), desired $(node_st node2 desired_generation), running $(node_st node2 running_generation), last_error: $err"
	[ "$(node_st node2 sync)" = failing ] && [ "$(node_st node2 connected)" = true ] &&
		[ "$(node_st node2 desired_generation)" = "$gen" ] &&
		[ "$(node_st node2 running_generation)" = "$g2" ] ||
		vsn_fail "node2's status: $OUT" || return 1
	grep -qF -- "$nerr" <<<"$err" ||
		vsn_fail "node2's last_error '$err' does not hold the node's error '$nerr'" || return 1
	in_sync node1 && [ "$(node_st node1 running_generation)" = "$g1" ] ||
		vsn_fail "node1's status changed: $OUT" || return 1
	[ "$(gen_of node2)" = "$g2" ] && [ "$(gen_of node1)" = "$g1" ] ||
		vsn_fail "a forwarder changed: node1 $(gen_of node1) (was $g1), node2 $(gen_of node2) (was $g2)" ||
		return 1
	# The refused set is not sent again and again.
	sleep "$(awk -v ms="$(ms_since "$t0")" 'BEGIN { s = (3000 - ms) / 1000; print (s > 0 ? s : 0) }')"
	n=$(count_log "$VSND_LOG" "$mv" " vsnd push: node=node2 generation=$gen ")
	[ "$n" = 1 ] || vsn_fail "generation $gen was pushed to node2 $n times in 3 s" || return 1
	echo "pushes of generation $gen to node2 within 3 s: $n"

	# node2 failing does not hold node1 back: a change of node1 alone reaches it.
	mv=$(mark "$VSND_LOG")
	write_doc "$S/nack-web.yaml" 'tcp/80, tcp/443, tcp/8080' "$DNS_MANY"
	apply_ok "$S/nack-web.yaml" "revision $(next_rev); changed nodes: node1" -m "web on 8080 again" ||
		return 1
	for i in $(seq 1 60); do
		status_json && in_sync node1 && [ "$(node_st node1 running_generation)" -gt "$g1" ] &&
			break
		sleep 0.05
	done
	in_sync node1 && expect_show node1 "$VIP_WEB tcp/8080 -> pool 1 " ||
		vsn_fail "node1 did not get its change: $OUT" || return 1
	[ "$(node_st node2 sync)" = failing ] && [ "$(gen_of node2)" = "$g2" ] ||
		vsn_fail "node2 should still be failing on generation $g2: $OUT" || return 1
	[ "$(count_log "$VSND_LOG" "$mv" ' vsnd push: node=node2 ')" = 0 ] ||
		vsn_fail "node2 was sent a set again: $(since "$VSND_LOG" "$mv")" || return 1

	# A fixed document: node2 back in sync.
	t0=$(now_us)
	apply_ok "$S/doc1.yaml" "revision $(next_rev); changed nodes: node1, node2" -m "dns on 53 only" ||
		return 1
	wait_in_sync 3000 || return 1
	ms=$(ms_since "$t0")
	expect_show node2 "$VIP_DNS udp/53 -> pool 1 " && expect_show node2 ", 1 policies," ||
		return 1
	[ "$(gen_of node2)" -gt "$gen" ] || vsn_fail "node2 runs generation $(gen_of node2)" ||
		return 1
	vsn_note "node2 refused generation $gen ('$nerr'), pushed once in 3 s; node1 got its own change meanwhile; the fixed document had both in sync in $ms ms"
}

ABORT_NERR='' ABORT_EV=0 ABORT_GEN=''
abort_path() {
	local g1 g2 b1 mv m1 m2 i ms t0 f

	ABORT_NERR='' ABORT_GEN=''
	status_json && in_sync node1 && in_sync node2 ||
		vsn_fail "the nodes are not in sync to begin with: $OUT" || return 1
	g1=$(gen_of node1)
	g2=$(gen_of node2)
	b1=$(body_of node1)
	ABORT_EV=$(last_event_id)
	mv=$(mark "$VSND_LOG")
	m1=$(mark "$S/node1.log")
	m2=$(mark "$S/node2.log")
	write_doc "$S/abort.yaml" 'tcp/80, tcp/443, tcp/8080' "$DNS_MANY"
	t0=$(now_us)
	apply_ok "$S/abort.yaml" "revision $(next_rev); changed nodes: node1, node2" -m "both, node2 refuses" ||
		return 1
	wait_log "$VSND_LOG" "$mv" ' vsnd rollout: id=[0-9]+ result=aborted .*failed_node=node2 ' 5000 ||
		return 1
	ms=$(ms_since "$t0")
	ABORT_GEN=$(since "$VSND_LOG" "$mv" | sed -n 's/.* vsnd push: node=node2 generation=\([0-9]*\) .*/\1/p' | head -n 1)
	since "$VSND_LOG" "$mv" | grep -qE ' vsnd push: node=node1 .*hold=true$' &&
		since "$VSND_LOG" "$mv" | grep -qE ' vsnd push: node=node2 .*hold=true$' ||
		vsn_fail "not two-phase (hold=true to both): $(since "$VSND_LOG" "$mv")" || return 1
	echo "vsnd: $(since "$VSND_LOG" "$mv" | grep ' rollout: .*aborted')"
	ABORT_NERR=$(node_nack_error node2 "$m2")
	[ -n "$ABORT_NERR" ] || vsn_fail "node2 did not nack: $(since "$S/node2.log" "$m2")" ||
		return 1
	# The event names node2 and its error.
	events_since "$ABORT_EV" || return 1
	i=$(jfind "$EV" events type rollout-aborted) ||
		vsn_fail "no rollout-aborted event: $OUT" || return 1
	echo "event: $(grep "^events\.$i\." <<<"$EV" | tr '\n' ' ')"
	[ "$(jget "$EV" "events.$i.detail.failed_node")" = node2 ] ||
		vsn_fail "the event does not name node2" || return 1
	f=$(jget "$EV" "events.$i.detail.message")
	grep -qF -- "$ABORT_NERR" <<<"$f" ||
		vsn_fail "the event's message '$f' lacks node2's error '$ABORT_NERR'" || return 1
	# Both keep their old set (the aborts have landed once node1 logs its abort).
	wait_log "$S/node1.log" "$m1" ' vsn-node abort: ' 2000 || return 1
	sleep 0.2
	[ "$(gen_of node1)" = "$g1" ] && [ "$(gen_of node2)" = "$g2" ] ||
		vsn_fail "generations: node1 $(gen_of node1) (was $g1), node2 $(gen_of node2) (was $g2)" ||
		return 1
	[ "$(body_of node1)" = "$b1" ] || vsn_fail "node1's set changed: $SHOW" || return 1
	[ "$(count_log "$S/node1.log" "$m1" ' vsn-node apply: ')" = 0 ] &&
		[ "$(count_log "$S/node2.log" "$m2" ' vsn-node apply: ')" = 0 ] ||
		vsn_fail "a node applied a set" || return 1
	vsn_note "rollout aborted $ms ms after the apply began: node2 refused ('$ABORT_NERR'); node1 stays on generation $g1, node2 on $g2; node1: $(since "$S/node1.log" "$m1" | awk '{ print $4 }' | tr '\n' ' ')"
}

# Right after abort_path, before anything else: the status and events must point at node2's own
# refusal. The Prepare that followed the refused held set is refused too (NACK_SEQUENCE: nothing
# held): that second Nack, which arrives after the rollout ended, must not replace the cause.
abort_status_names_cause() {
	local err n i

	[ -n "$ABORT_NERR" ] || vsn_fail "abort_path did not get this far" || return 1
	status_json || return 1
	err=$(node_st node2 last_error)
	echo "status of node2: sync $(node_st node2 sync), last_error: $err"
	echo "status of node1: sync $(node_st node1 sync), last_error: $(node_st node1 last_error)"
	events_since "$ABORT_EV" || return 1
	n=$(grep -cE '^events\.[0-9]+\.type=node-nack$' <<<"$EV")
	echo "node-nack events after the apply: $n:"
	grep -E '^events\.[0-9]+\.type=node-nack$' <<<"$EV" | cut -d. -f2 | while read -r i; do
		echo "  $(jget "$EV" "events.$i.subject") generation $(jget "$EV" "events.$i.detail.generation"): $(jget "$EV" "events.$i.detail.code"): $(jget "$EV" "events.$i.detail.message")"
	done
	grep -qF -- "$ABORT_NERR" <<<"$err" ||
		vsn_fail "node2's last_error is not its refusal of generation $ABORT_GEN ('$ABORT_NERR') but: $err" ||
		return 1
	[ "$n" = 1 ] || vsn_fail "$n node-nack events for one refused set" || return 1
}

# The aborted set stays aborted: the document before it is in force again, so node1, restarted,
# reconnects to find its running set is the desired one and is sent nothing.
abort_survives_reconnect() {
	local g1 b1 m1 mv

	status_json && in_sync node1 ||
		vsn_fail "node1 is not in sync after the abort: $OUT" || return 1
	g1=$(gen_of node1)
	b1=$(body_of node1)
	mv=$(mark "$VSND_LOG")
	m1=$(mark "$S/node1.log")
	agent_kill node1 KILL
	agent_start node1
	wait_log "$VSND_LOG" "$mv" ' vsnd in-sync: node=node1 ' 5000 || return 1
	sleep 0.3
	[ "$(gen_of node1)" = "$g1" ] && [ "$(body_of node1)" = "$b1" ] ||
		vsn_fail "node1 went from generation $g1 to $(gen_of node1) on reconnecting" ||
		return 1
	[ "$(count_log "$S/node1.log" "$m1" ' vsn-node (apply|hold|prepare): ')" = 0 ] ||
		vsn_fail "node1 was sent a set: $(since "$S/node1.log" "$m1")" || return 1
	cli read get state
	grep -q 'tcp/8080' <<<"$OUT" && vsn_fail "the aborted document is in force: $OUT" && return 1
	echo "node1 restarted after the abort: in sync on generation $g1, nothing sent"
}

# vsn pin: web runs its spare configuration on node1 at once (an event says who), status says
# pinned; vsn unpin: back to normal. A pin of a configuration the service lacks is a 404.
pin_and_unpin() {
	local b0 b1 m1 ev i

	status_json && in_sync node1 || vsn_fail "node1 not in sync: $OUT" || return 1
	b0=$(body_of node1)
	ev=$(last_event_id)
	cli admin pin web nosuch
	[ "$RC" = 1 ] && grep -q 'HTTP 404' <<<"$ERR" ||
		vsn_fail "a pin of a missing configuration: rc $RC: $ERR" || return 1
	m1=$(mark "$S/node1.log")
	cli_ok admin pin web spare || return 1
	grep -q 'web: pinned to spare; changed nodes: node1' <<<"$OUT" ||
		vsn_fail "pin answered: $OUT" || return 1
	wait_log "$S/node1.log" "$m1" ' vsn-node apply: ' 3000 || return 1
	b1=$(body_of node1)
	[ "$b1" != "$b0" ] || vsn_fail "node1's set did not change on the pin" || return 1
	status_json || return 1
	i=$(jfind "$ST" services name web) &&
		[ "$(jget "$ST" "services.$i.configuration")" = spare ] &&
		[ "$(jget "$ST" "services.$i.pinned")" = true ] ||
		vsn_fail "status does not show the pin: $ST" || return 1
	events_since "$ev" || return 1
	jfind "$EV" events type pin >/dev/null || vsn_fail "no pin event: $EV" || return 1
	m1=$(mark "$S/node1.log")
	cli_ok admin unpin web || return 1
	wait_log "$S/node1.log" "$m1" ' vsn-node apply: ' 3000 || return 1
	[ "$(body_of node1)" = "$b0" ] || vsn_fail "unpin did not restore node1's set: $SHOW" ||
		return 1
	echo "pin: node1 ran web's spare configuration; unpin: normal again"
}

# A condition switches: web's `standby` configuration holds once node2 has been down for 1 s;
# the switch is an event with the condition and its values; node2 back, web returns to normal,
# held back by the dwell (2 s here) from the switch.
condition_switch() {
	local b0 m1 t0 t1 ms i ev

	write_doc "$S/cond.yaml"
	# web gets a third configuration, the highest priority, on node2's absence.
	sed -i "/^        when: 'not healthy(slb slb-a)'\$/,/^          - destination: slb-b\$/ {
		/^          - destination: slb-b\$/ a\\
      - name: standby\\
        priority: 20\\
        when: 'not node_up(node2) for 1s'\\
        policies:\\
          - destination: slb-b
	}" "$S/cond.yaml"
	# ... and runs on both nodes, so that its return reaches two nodes in two phases.
	sed -i '0,/^    nodes: \[node1\]$/ s//    nodes: [node1, node2]/' "$S/cond.yaml"
	grep -q 'name: standby' "$S/cond.yaml" && grep -q 'nodes: \[node1, node2\]' "$S/cond.yaml" ||
		vsn_fail "no standby on both nodes in $S/cond.yaml" || return 1
	converge "$S/cond.yaml" || return 1
	b0=$(body_of node1)
	ev=$(last_event_id)
	m1=$(mark "$S/node1.log")
	t0=$(now_us)
	agent_kill node2 KILL
	wait_log "$S/node1.log" "$m1" ' vsn-node apply: ' 6000 || return 1
	ms=$(ms_since "$t0")
	[ "$(body_of node1)" != "$b0" ] || vsn_fail "node1's set did not change" || return 1
	# The event comes once node1 acknowledged; node2, away, is named, not waited for.
	wait_event "$ev" configuration 3000 || return 1
	i=$I
	[ "$(jget "$EV" "events.$i.detail.to")" = standby ] &&
		[ "$(jget "$EV" "events.$i.detail.from")" = normal ] &&
		[ "$(jget "$EV" "events.$i.detail.acked")" = 1 ] &&
		[ "$(jget "$EV" "events.$i.detail.nodes")" = 2 ] &&
		[ "$(jget "$EV" "events.$i.detail.not_acked.node2")" = "not connected" ] &&
		grep -qE '^[0-9.]+$' <<<"$(jget "$EV" "events.$i.detail.acked_ms")" ||
		vsn_fail "the event: $(grep "^events\.$i\." <<<"$EV")" || return 1
	echo "node2 killed: web on standby at node1 $ms ms later (for 1s), acknowledged $(jget "$EV" "events.$i.detail.acked_ms") ms after the decision; values: $(jget "$EV" "events.$i.detail.values")"
	status_json || return 1
	i=$(jfind "$ST" services name web) &&
		[ "$(jget "$ST" "services.$i.configuration")" = standby ] ||
		vsn_fail "status: $ST" || return 1
	# node2 back: the return waits out the dwell from the switch.
	ev=$(last_event_id)
	m1=$(mark "$S/node1.log")
	t1=$(now_us)
	agent_start node2
	wait_log "$S/node1.log" "$m1" ' vsn-node apply: ' 8000 || return 1
	ms=$(ms_since "$t1")
	[ "$(body_of node1)" = "$b0" ] || vsn_fail "web did not return to normal: $SHOW" || return 1
	# Both nodes connected: the return went out as one two-phase rollout, acknowledged by both.
	wait_event "$ev" configuration 3000 || return 1
	i=$I
	[ "$(jget "$EV" "events.$i.detail.to")" = normal ] &&
		[ "$(jget "$EV" "events.$i.detail.acked")" = 2 ] &&
		grep -qE '^[0-9.]+$' <<<"$(jget "$EV" "events.$i.detail.acked_ms")" ||
		vsn_fail "the return's event: $(grep "^events\.$i\." <<<"$EV")" || return 1
	i=$(jfind "$EV" events type rollout-committed) &&
		[ "$(jget "$EV" "events.$i.detail.cause")" = switch ] ||
		vsn_fail "the return was no two-phase rollout: $EV" || return 1
	echo "node2 back: web on normal again $ms ms after its restart (dwell 2 s from the switch), on both nodes $(jget "$EV" "events.$I.detail.acked_ms") ms after the decision"
	wait_in_sync 5000
}

# poll_slb NODE... STATE: until every NODE's forwarder has slb-a in STATE; POLL_MS how long.
POLL_MS=''
poll_slb() {
	local state=${*: -1} t0 n ok

	t0=$(now_us)
	while :; do
		ok=1
		for n in "${@:1:$#-1}"; do
			show "$n"
			grep -qE "^  slb [0-9]+ $SLB_A l2 $state " <<<"$SHOW" || ok=0
		done
		if [ "$ok" = 1 ]; then
			POLL_MS=$(ms_since "$t0")
			return 0
		fi
		[ "$(ms_since "$t0")" -lt 3000 ] ||
			vsn_fail "slb-a not $state on every node after 3 s: $SHOW" || return 1
		sleep 0.01
	done
}

drain_step() { # drain|undrain STATE
	local ev mv i f t0

	ev=$(last_event_id)
	mv=$(mark "$VSND_LOG")
	t0=$(now_us)
	cli_ok admin "$1" slb-a || return 1
	echo "vsn $1 slb-a: $OUT"
	poll_slb node1 node2 "$2" || return 1
	echo "slb-a $2 on both nodes after $POLL_MS ms"
	vsn_note "$1: slb-a $2 on both forwarders $POLL_MS ms after 'vsn $1' began"
	[ "$POLL_MS" -le 1000 ] || vsn_fail "slb-a became $2 only after $POLL_MS ms" || return 1
	[[ $OUT == "slb-a: $2 (was "*"); sent to 2 nodes" ]] ||
		vsn_fail "vsn $1 printed '$OUT'" || return 1
	status_json || return 1
	i=$(jfind "$ST" slbs name slb-a) && [ "$(jget "$ST" "slbs.$i.state")" = "$2" ] ||
		vsn_fail "status: slb-a is not $2: $OUT" || return 1
	events_since "$ev" || return 1
	f=$(grep -E '^events\.[0-9]+\.subject=slb-a$' <<<"$EV" | head -n 1 | cut -d. -f2)
	[ -n "$f" ] || vsn_fail "no event about slb-a: $OUT" || return 1
	echo "event: $(grep "^events\.$f\." <<<"$EV" | tr '\n' ' ')"
	wait_log "$VSND_LOG" "$mv" " vsnd slb-state: slb=slb-a id=[0-9]+ state=$2 nodes=2$" 1000 ||
		return 1
	wait_in_sync 3000
}

drain() {
	converge "$S/doc1.yaml" || return 1
	expect_show node1 " $SLB_A l2 up " && expect_show node2 " $SLB_A l2 up " || return 1
	drain_step drain drain || return 1
	drain_step undrain up
}

metrics() {
	local code m

	code=$(vsn_ns "$NS" curl -sS -o "$S/metrics.txt" -D "$S/metrics.hdr" -w '%{http_code}' \
		--cacert "$S/ctl/ca.crt" "https://127.0.0.1:$API_PORT/metrics")
	[ "$code" = 200 ] || vsn_fail "GET /metrics without a token: HTTP $code" || return 1
	tr -d '\r' <"$S/metrics.hdr" | grep -qi '^Content-Type: text/plain; version=0.0.4' ||
		vsn_fail "content type: $(grep -i content-type "$S/metrics.hdr")" || return 1
	m=$(grep -v '^#' "$S/metrics.txt")
	echo "$m" | grep -E '^vsn_(applies_total|nodes_connected|rollout_skew_seconds_count|active_configuration|nacks_total|rollouts)'
	# v NAME: the sample's value.
	v() { awk -v k="$1" '$1 == k { print $2; exit }' <<<"$m"; }
	[ "$(v vsn_applies_total)" = "$APPLIES" ] ||
		vsn_fail "vsn_applies_total $(v vsn_applies_total), but vsnd accepted $APPLIES documents" ||
		return 1
	[ "$(v vsn_nodes_connected)" = 2 ] || vsn_fail "vsn_nodes_connected $(v vsn_nodes_connected)" ||
		return 1
	[ "$(v vsn_rollout_skew_seconds_count)" -gt 0 ] 2>/dev/null ||
		vsn_fail "vsn_rollout_skew_seconds_count $(v vsn_rollout_skew_seconds_count)" || return 1
	[ "$(v 'vsn_active_configuration{service="web",configuration="normal"}')" = 1 ] ||
		vsn_fail "no vsn_active_configuration 1 for web's normal" || return 1
	[ "$(v 'vsn_nacks_total{node="node2"}')" -ge 1 ] 2>/dev/null ||
		vsn_fail "vsn_nacks_total of node2: $(v 'vsn_nacks_total{node="node2"}')" || return 1
	vsn_note "metrics: applies $(v vsn_applies_total), rollout skew count $(v vsn_rollout_skew_seconds_count) sum $(v vsn_rollout_skew_seconds_sum) s, node2 Nacks $(v 'vsn_nacks_total{node="node2"}')"
}

# A switch whose two-phase rollout aborts (node2 stopped: no prepared Ack within the rollout
# timeout) still stands: node1 gets its set on its own at once, node2 once it runs again, and the
# switch's event waits for both.
switch_abort_falls_back() {
	local ev mv m1 b1 t0 ms i

	write_doc "$S/swab.yaml"
	# A third node that never connects; web on both nodes wins 'standby' 3 s after the apply.
	sed -i -e 's/^  - name: node2$/&\n  - name: node3/' \
		-e '0,/^    nodes: \[node1\]$/ s//    nodes: [node1, node2]/' \
		-e "/^        when: 'not healthy(slb slb-a)'\$/,/^          - destination: slb-b\$/ {
		/^          - destination: slb-b\$/ a\\
      - name: standby\\
        priority: 20\\
        when: 'not node_up(node3) for 3s'\\
        policies:\\
          - destination: slb-b
	}" "$S/swab.yaml"
	grep -q 'for 3s' "$S/swab.yaml" && grep -q 'name: node3' "$S/swab.yaml" ||
		vsn_fail "no standby or node3 in $S/swab.yaml" || return 1
	converge "$S/swab.yaml" || return 1
	b1=$(body_of node1)
	ev=$(last_event_id)
	mv=$(mark "$VSND_LOG")
	m1=$(mark "$S/node1.log")
	kill -STOP "${NODE_PID[node2]}"
	t0=$(now_us)
	wait_log "$VSND_LOG" "$mv" ' vsnd rollout: id=[0-9]+ switch=aborted' 12000 ||
		{ kill -CONT "${NODE_PID[node2]}"; return 1; }
	wait_log "$S/node1.log" "$m1" ' vsn-node apply: ' 3000 ||
		{ kill -CONT "${NODE_PID[node2]}"; return 1; }
	ms=$(ms_since "$t0")
	kill -CONT "${NODE_PID[node2]}"
	[ "$(body_of node1)" != "$b1" ] || vsn_fail "node1's set did not change" || return 1
	wait_event "$ev" configuration 5000 || return 1
	i=$I
	# node2, stopped longer than its keepalive timeout, may hang up when it runs again (then
	# it reconnects and gets its set): acknowledged or named as gone, never waited for.
	[ "$(jget "$EV" "events.$i.detail.to")" = standby ] &&
		[ "$(jget "$EV" "events.$i.detail.nodes")" = 2 ] &&
		{ { [ "$(jget "$EV" "events.$i.detail.acked")" = 2 ] &&
			grep -qE '^[0-9.]+$' <<<"$(jget "$EV" "events.$i.detail.acked_ms")"; } ||
			{ [ "$(jget "$EV" "events.$i.detail.acked")" = 1 ] &&
				[ "$(jget "$EV" "events.$i.detail.not_acked.node2")" = disconnected ]; }; } ||
		vsn_fail "the switch's event: $(grep "^events\.$i\." <<<"$EV")" || return 1
	i=$(jfind "$EV" events type rollout-aborted) &&
		[ "$(jget "$EV" "events.$i.detail.cause")" = switch ] ||
		vsn_fail "no aborted switch rollout: $EV" || return 1
	vsn_note "switch rollout aborted (node2 stopped); node1 on standby $ms ms after the stop; event: acked $(jget "$EV" "events.$I.detail.acked") of 2, acked_ms $(jget "$EV" "events.$I.detail.acked_ms")"
	# Both run the switch in the end.
	wait_in_sync 5000 || return 1
	[ "$(body_of node1)" != "$b1" ] || vsn_fail "node1 left standby" || return 1
}

kill9_during_rollout_then_restart() {
	local mv m1 m2 rev p1 p2 n g t0 ms ic phase

	converge "$S/doc1.yaml" || return 1
	write_doc "$S/k9.yaml" '' '' 3
	mv=$(mark "$VSND_LOG")
	m1=$(mark "$S/node1.log")
	m2=$(mark "$S/node2.log")
	cli_ok admin apply -f "$S/k9.yaml" -m "weight 3, then kill -9" || return 1
	vsnd_kill KILL
	APPLIES=$((APPLIES + 1))
	rev=$(sed -n 's/^revision \([0-9]*\);.*/\1/p' <<<"$OUT")
	# The generations vsnd stored and pushed before it died.
	p1=$(since "$VSND_LOG" "$mv" | sed -n 's/.* vsnd push: node=node1 generation=\([0-9]*\) .*/\1/p' | head -n 1)
	p2=$(since "$VSND_LOG" "$mv" | sed -n 's/.* vsnd push: node=node2 generation=\([0-9]*\) .*/\1/p' | head -n 1)
	echo "apply: $OUT; pushed before the kill: node1 ${p1:-none}, node2 ${p2:-none}"
	[ -n "$rev" ] && [ -n "$p1" ] && [ -n "$p2" ] ||
		vsn_fail "no revision or pushes: $(since "$VSND_LOG" "$mv")" || return 1
	phase="node1: $(since "$S/node1.log" "$m1" | awk '{ print $4 }' | tr '\n' ' ')/ node2: $(since "$S/node2.log" "$m2" | awk '{ print $4 }' | tr '\n' ' ')"
	# The store as the kill left it.
	if command -v sqlite3 >/dev/null 2>&1; then
		ic=$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)
		echo "integrity_check: $ic"
		[ "$ic" = ok ] || vsn_fail "PRAGMA integrity_check: $ic" || return 1
	else
		vsn_note "sqlite3 is not installed: PRAGMA integrity_check skipped"
	fi
	t0=$(now_us)
	vsnd_start || return 1
	wait_in_sync 5000 || return 1
	ms=$(ms_since "$t0")
	[ "$(jget "$ST" revision)" = "$rev" ] ||
		vsn_fail "status after the restart: revision $(jget "$ST" revision), not $rev" || return 1
	# Each node runs the very generation stored for it before the kill.
	[ "$(node_st node1 running_generation)" = "$p1" ] &&
		[ "$(node_st node2 running_generation)" = "$p2" ] ||
		vsn_fail "running node1 $(node_st node1 running_generation), node2 $(node_st node2 running_generation); stored before the kill: $p1, $p2" ||
		return 1
	for n in "node1 $p1" "node2 $p2"; do
		read -r n g <<<"$n"
		show "$n"
		grep -q "^generation $g," <<<"$SHOW" ||
			vsn_fail "$n's forwarder does not run generation $g: $SHOW" || return 1
		grep -qE '^  pool 1: slb [0-9]+ weight 3, slb [0-9]+ weight 1$' <<<"$SHOW" ||
			vsn_fail "$n's pool is not slb-a weight 3: $SHOW" || return 1
		# The log says what the restarted controller wants it to run: the stored set.
		since "$VSND_LOG" "$mv" | grep -qE " vsnd connected: node=$n .*desired_generation=$g " ||
			vsn_fail "vsnd's connected line for $n: $(since "$VSND_LOG" "$mv" | grep " connected: node=$n ")" ||
			return 1
	done
	cli_ok read history --limit 1 -o json || return 1
	[ "$(jget "$(jflat <<<"$OUT")" revisions.0.revision)" = "$rev" ] ||
		vsn_fail "history after the restart: $OUT" || return 1
	vsn_note "kill -9 right after 'vsn apply' returned (revision $rev; the nodes had logged: $phase); restarted, both in sync on generations $p1/$p2 $ms ms after the start"
}

# All stop on SIGTERM with status 0; no log holds a sanitizer report.
clean_stop() {
	local n f bad=0 rc

	for n in $NODES; do
		agent_kill "$n" TERM
		rc=$STOP_RC
		[ "$rc" -eq 0 ] || vsn_fail "$n's agent exited $rc" || bad=1
	done
	vsnd_kill TERM
	[ "$STOP_RC" -eq 0 ] || vsn_fail "vsnd exited $STOP_RC" || bad=1
	# cli.log: every vsn command's output (a sanitizer build of vsn reports there).
	for f in "$VSND_LOG" "$S/node1.log" "$S/node2.log" "$S/cli.log"; do
		if grep -qE 'Sanitizer|runtime error:' "$f" 2>/dev/null; then
			vsn_fail "sanitizer report in $(basename "$f"):"
			grep -A 30 -E 'Sanitizer|runtime error:' "$f" | head -n 60
			bad=1
		fi
	done
	return $bad
}

# ---- setup ----

# A check as vsn_tap runs it, with its time on the result line.
check() { vsn_check "$@"; }

# With VSN_LOG_DIR set, the run's files (logs, documents, outputs; not the keys or tokens) are
# copied there before the cleanup.
keep_logs() { vsn_keep_logs "$S"; }

random_token() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

setup() {
	local n

	"$VSN" ca create --dir "$S/ca" --name test-ca >/dev/null &&
		"$VSN" cert issue --ca "$S/ca" --out "$S/ctl" --controller "$CTL_NAME" \
			--ip 127.0.0.1 >/dev/null || return 1
	for n in $NODES; do
		"$VSN" cert issue --ca "$S/ca" --out "$S/$n" --node "$n" >/dev/null || return 1
	done
	ADMIN_TOKEN=$(random_token)
	READ_TOKEN=$(random_token)
	(umask 077 && printf 'admin %s # the test\nread %s\n' "$ADMIN_TOKEN" "$READ_TOKEN" \
		>"$S/tokens") || return 1

	vsn_register netns "$NS"
	ip netns add "$NS" && vsn_ns "$NS" ip link set dev lo up || return 1
	vsnd_start || return 1
	for n in $NODES; do
		PIN[$n]=/sys/fs/bpf/vsn-test-ctl-$$-$n
		vsn_register pindir "${PIN[$n]}"
	done
	write_node_cfg node1
	write_node_cfg node2 "max_policies: $NODE2_MAX_POLICIES"
	for n in $NODES; do agent_start "$n"; done
	for n in $NODES; do
		wait_log "$S/$n.log" 0 ' vsn-node connected: ' 15000 &&
			wait_log "$VSND_LOG" 0 " vsnd connected: node=$n " 2000 || return 1
	done
}

main() {
	local t0=$SECONDS t

	[ "$(id -u)" -eq 0 ] || vsn_skip "netns tests need root"
	for t in ip nsenter curl awk sed od mountpoint; do
		command -v "$t" >/dev/null 2>&1 || vsn_skip "missing tool: $t (scripts/deps.sh)"
	done
	vsn_built "$VSND" "$VSN_NODE" "$VSN" "$VSN_DPCTL"
	vsn_bpffs_ensure || exit 1
	vsn_state_init || exit 1
	vsn_trap_cleanup
	trap 'keep_logs; vsn_cleanup' EXIT
	vsn_tap_init
	S=$VSN_STATE_DIR
	VSND_LOG=$S/vsnd.log
	DB=$S/vsn.db
	setup >"$S/setup.out" 2>&1 || {
		echo "Bail out! cannot start vsnd and the agents:"
		cat "$S/setup.out" "$VSND_LOG" "$S"/node*.log 2>/dev/null | sed 's/^/#   /'
		exit 1
	}
	vsn_note "namespace $NS, vsnd and 2 agents connected in $((SECONDS - t0)) s"
	vsn_note "vsnd $VSND, vsn-node $VSN_NODE, vsn $VSN"

	check apply_and_status
	check diff_history_rollback
	check validation_errors
	check tokens_and_roles
	check nack_path
	check abort_path
	check abort_status_names_cause
	check abort_survives_reconnect
	check drain
	check pin_and_unpin
	check condition_switch
	check metrics
	check switch_abort_falls_back
	check kill9_during_rollout_then_restart
	check clean_stop
	vsn_note "took $((SECONDS - t0)) s"
	vsn_tap_done
}

main "$@"

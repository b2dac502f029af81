#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The README's first command keeps working: tests/netns/demo.sh (what `make demo` runs) goes
# through every scenario it narrates, within 3 minutes, leaves nothing behind (on success and on
# Ctrl-C), and its --keep / --clean pair works. Root only (exit 77 otherwise). TAP lines, closing
# with "N passed, M failed".
#
# Checks (the demo writes what happened with --report; see demo.sh):
#   example_validates        examples/demo.yaml passes 'vsn validate' as it is
#   demo_runs_and_cleans_up  exit 0 in under 180 s; nothing left (namespaces, pins, files,
#                            processes)
#   switches_in_order        web went normal -> failover (slb-a's nginx stopped) -> normal ->
#                            overflow (the pool loaded) -> normal -> scheduled (in the window),
#                            each event telling how long the nodes took to acknowledge it
#   answers_from_expected_slbs
#                            normal: slb-a and slb-b, the prefix's client slb-c; failover: slb-b
#                            (prefix: slb-c); overflow: slb-c; scheduled: slb-a; both nodes
#                            forwarded (ECMP); the overflow's connections stayed on slb-a/slb-b
#   no_loss_beyond_failover  requests went unanswered only between slb-a's failure and the switch
#   keep_then_clean          --keep leaves it up and the CLI commands it prints work (vsn status,
#                            events, get state); --clean removes all of it
#   interrupt_cleans_up      Ctrl-C (SIGINT to the demo's process group) mid-way: exit 130,
#                            nothing left
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/netns/demo_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/demo_lib.sh"

DEMO=$VSN_ROOT/tests/netns/demo.sh
MAX_SECONDS=180
REP='' # the report of the full run
OUT=''

# rep KEY...: the rest of the report's line starting with KEY (the first one).
rep() { awk -v k="$*" 'index($0, k " ") == 1 { print substr($0, length(k) + 2); exit }' "$REP"; }

# expect_answers PHASE SRC WANT: the answers of that phase and source are exactly WANT's SLBs.
expect_answers() {
	local got names

	got=$(rep answers "$1" "$2")
	names=$(tr ' ' '\n' <<<"$got" | sed 's/=.*//' | grep . | sort | tr '\n' ' ' | sed 's/ $//')
	[ "$names" = "$3" ] || vsn_fail "$1, $2: answers '$got', wanted only and all of: $3"
}

example_validates() {
	"$DEMO_VSN" validate "$VSN_ROOT/examples/demo.yaml"
}

demo_runs_and_cleans_up() {
	local t0=$SECONDS rc s left

	"$DEMO" --report "$REP" >"$VSN_STATE_DIR/demo.out" 2>&1
	rc=$?
	s=$((SECONDS - t0))
	vsn_note "the demo took $s s (its own count: $(rep seconds) s)"
	[ "$rc" -eq 0 ] || vsn_fail "demo.sh exited $rc: $(tail -n 40 "$VSN_STATE_DIR/demo.out")" ||
		return 1
	[ "$s" -lt "$MAX_SECONDS" ] || vsn_fail "the demo took $s s, not under $MAX_SECONDS" || return 1
	left=$(demo_leftovers)
	[ -z "$left" ] || vsn_fail "left behind: $left"
}

switches_in_order() {
	local sw ev

	[ -s "$REP" ] && [ "$(rep exit)" = 0 ] || vsn_fail "no report of a whole run" || return 1
	sw=$(rep switches)
	echo "switches: $sw"
	case "$sw" in
	"normal>failover failover>normal normal>overflow overflow>normal normal>scheduled" | \
		"normal>failover failover>normal normal>overflow overflow>scheduled" | \
		"normal>failover failover>scheduled "*) ;;
	*) vsn_fail "switches: '$sw', not normal>failover>normal>overflow>normal>scheduled" || return 1 ;;
	esac
	for ev in failover overflow scheduled; do
		grep -qE "^reach(_node)? $ev " "$REP" ||
			vsn_fail "no time to reach the nodes for the switch to $ev" || return 1
	done
	[ "$(rep switch failover)" -lt 2000 ] ||
		vsn_fail "failover took $(rep switch failover) ms after nginx stopped, not under 2 s" ||
		return 1
	[ "$(rep switch scheduled)" -ge 0 ] && [ "$(rep switch scheduled)" -lt 5000 ] ||
		vsn_fail "scheduled came $(rep switch scheduled) ms after the window's start" || return 1
	grep -q 'acknowledged the new set\|Ack ' "$VSN_STATE_DIR/demo.out" ||
		vsn_fail "the transcript does not say how long the switches took to reach the nodes"
}

answers_from_expected_slbs() {
	local a b

	expect_answers normal main 'slb-a slb-b' &&
		expect_answers normal prefix slb-c &&
		expect_answers failover main slb-b &&
		expect_answers failover prefix slb-c &&
		expect_answers overflow main slb-c &&
		expect_answers scheduled main slb-a &&
		expect_answers scheduled prefix slb-a || return 1
	read -r a b <<<"$(rep ecmp)"
	[ "${a:-0}" -gt 0 ] && [ "${b:-0}" -gt 0 ] ||
		vsn_fail "ECMP: node1 forwarded ${a:-?} packets, node2 ${b:-?}; both should" || return 1
	read -r a b <<<"$(rep preserved)"
	[ $((${a:-0} + ${b:-0})) -ge 20 ] ||
		vsn_fail "after the overflow switch HAProxy held ${a:-?} + ${b:-?} of the 24 long requests"
}

no_loss_beyond_failover() {
	local in out

	in=$(rep lost_in_failover) out=$(rep lost_elsewhere)
	vsn_note "requests lost while slb-a failed: $in; at other times: $out"
	[ "$out" = 0 ] || vsn_fail "$out requests were lost outside the failover window" || return 1
	[ "$in" -le 10 ] || vsn_fail "$in requests lost during the failover window"
}

keep_then_clean() {
	local rc left

	"$DEMO" --keep >"$VSN_STATE_DIR/keep.out" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] || vsn_fail "demo.sh --keep exited $rc: $(tail -n 40 "$VSN_STATE_DIR/keep.out")" ||
		return 1
	grep -q 'tests/netns/demo.sh --clean' "$VSN_STATE_DIR/keep.out" ||
		vsn_fail "--keep does not say how to remove it" || return 1
	ip netns list | grep -q "^${DEMO_PREFIX}ctl" || vsn_fail "--keep left nothing running" ||
		return 1
	# The commands it prints, as an operator types them.
	OUT=$(bash -c ". $DEMO_STATE/env && vsn status" 2>&1) &&
		grep -qE '^web +(normal|scheduled) ' <<<"$OUT" ||
		vsn_fail "'. $DEMO_STATE/env; vsn status' failed: $OUT" || return 1
	OUT=$(bash -c ". $DEMO_STATE/env && vsn events" 2>&1) && grep -q ' configuration ' <<<"$OUT" ||
		vsn_fail "vsn events failed or shows no switch: $OUT" || return 1
	OUT=$(bash -c ". $DEMO_STATE/env && vsn get state" 2>&1) && grep -q 'schedule("' <<<"$OUT" ||
		vsn_fail "vsn get state failed: $OUT" || return 1
	OUT=$(eval "$(grep -A2 '^    or, without the env file:' "$VSN_STATE_DIR/keep.out" |
		tail -n 2 | sed 's/^ *//' | tr -d '\\\n')" 2>&1) && grep -q '^web ' <<<"$OUT" ||
		vsn_fail "the CLI command without the env file failed: $OUT" || return 1
	OUT=$(tail -n 1 "$DEMO_STATE/traffic.log")
	[ -n "$OUT" ] || vsn_fail "no client traffic while kept" || return 1
	OUT=$("$DEMO" --clean 2>&1) || vsn_fail "demo.sh --clean failed: $OUT" || return 1
	left=$(demo_leftovers)
	[ -z "$left" ] || vsn_fail "--clean left: $left" || return 1
	OUT=$("$DEMO" --clean 2>&1)
	[ "$OUT" = "no vsn demo to remove" ] || vsn_fail "a second --clean said: $OUT"
}

interrupt_cleans_up() {
	local pid i rc left

	# Job control: the demo gets a process group of its own, and SIGINT is not ignored in it.
	set -m
	"$DEMO" >"$VSN_STATE_DIR/int.out" 2>&1 &
	pid=$!
	set +m
	for i in $(seq 1 600); do
		grep -q 'Failover: stop nginx' "$VSN_STATE_DIR/int.out" && break
		alive "$pid" || break
		sleep 0.1
	done
	grep -q 'Failover: stop nginx' "$VSN_STATE_DIR/int.out" ||
		vsn_fail "the demo did not get to the failover: $(tail -n 20 "$VSN_STATE_DIR/int.out")" ||
		return 1
	# What a Ctrl-C on the terminal does: SIGINT to the foreground process group.
	kill -INT -- "-$pid"
	wait "$pid"
	rc=$?
	[ "$rc" -eq 130 ] || vsn_fail "exit $rc after Ctrl-C, not 130" || return 1
	grep -q 'Interrupted: removing the demo' "$VSN_STATE_DIR/int.out" ||
		vsn_fail "no word of the interruption: $(tail -n 5 "$VSN_STATE_DIR/int.out")" || return 1
	left=$(demo_leftovers)
	[ -z "$left" ] || vsn_fail "left after Ctrl-C: $left"
}

main() {
	local t

	vsn_require haproxy jq setsid pgrep
	vsn_built "$DEMO_VSND" "$DEMO_VSN_NODE" "$DEMO_VSN" "$VSN_SLB"
	vsn_bpffs_ensure || exit 1
	# shellcheck disable=SC2119 # a fresh state dir: no argument
	vsn_state_init || exit 1
	vsn_trap_cleanup
	# Whatever happens to this test, no demo stays behind.
	trap 'demo_clean >/dev/null; vsn_cleanup' EXIT
	vsn_tap_init
	REP=$VSN_STATE_DIR/report
	# Names of this run's own: an operator's kept demo (vsndemo-*) stays untouched.
	export VSN_DEMO_PREFIX=vsnt$$- VSN_DEMO_STATE=/tmp/vsn-netns.demo$$ VSN_DEMO_PIN=/sys/fs/bpf/vsnt$$
	DEMO_PREFIX=$VSN_DEMO_PREFIX DEMO_STATE=$VSN_DEMO_STATE DEMO_PIN=$VSN_DEMO_PIN
	if [ -n "$(demo_leftovers)" ]; then
		vsn_note "a demo is up (demo.sh --keep?); removing it first"
		demo_clean >/dev/null
	fi
	vsn_tap example_validates
	vsn_tap demo_runs_and_cleans_up
	vsn_tap switches_in_order
	vsn_tap answers_from_expected_slbs
	vsn_tap no_loss_beyond_failover
	vsn_tap keep_then_clean
	vsn_tap interrupt_cleans_up
	vsn_tap_done
}

main "$@"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Health-driven failover end to end, with real traffic: vsnd in controller mode probes two SLBs
# over HTTP; when slb-a's nginx dies, the condition 'not healthy(slb slb-a)' switches service web
# to its failover configuration (slb-b) on the node, and the client's requests to the VIP are
# answered by slb-b; nginx back on slb-a, web returns to normal (after the dwell). The node is a
# vsn-node agent attached to its client-facing veth (l2, direct server return, as
# test_pool_live.sh). The topology, vsnd, the agent and the CLI are tests/netns/lib_ctl.sh's.
# Root only (exit 77 otherwise). Prints TAP lines and closes with "N passed, M failed".
#
#  +-----------------+      +-------------------------------+      +-----------------------------+
#  | ns client       |      | ns node                       |  sl1 | ns slb-a: eth0 10.100.2.2   |
#  | eth0 10.100.1.2 |------| cli0 [XDP vsn]       sl1 .2.1|------|   nginx "slb-a"             |
#  | 192.0.2.80 via  | veth | 10.100.1.1            sl2 .3.1|------| ns slb-b: eth0 10.100.3.2   |
#  |   the node      |      | vsnd (controller, 127.0.0.1:  |  sl2 |   nginx "slb-b"             |
#  +-----------------+      |   7700 nodes, 7443 API),      |      | lo 192.0.2.80, default via  |
#                           | vsn-node node1 (attached to   |      |   the node                  |
#                           |   cli0), health probes to the |      +-----------------------------+
#                           |   SLBs over sl1/sl2           |
#                           +-------------------------------+
#
# Checks:
#   normal_answers_slb_a   web runs normal: curl to the VIP answers slb-a
#   failover_on_kill       nginx's master (and workers) on slb-a killed: the first answer "slb-b"
#                          comes within 2 s (measured, curl every ~50 ms); vsnd logs slb-a down
#                          and web's switch normal -> failover; the node's forwarder has slb-a
#                          down
#   return_on_restart      nginx back on slb-a: web returns to normal (the dwell, 2 s, holds the
#                          return) and curl answers slb-a within 5 s
#   clean_stop             SIGTERM stops vsnd and the agent with status 0; no sanitizer report
#
#   VSND=build/san/vsnd VSN_NODE=build/san/vsn-node tests/netns/test_failover_live.sh
#                                               sanitizer builds (also VSN, VSN_DPCTL)
#   VSN_VERBOSE=1 ...                           narrates cleanup
#   VSN_LOG_DIR=DIR ...                         keeps the logs and documents
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/netns/lib_ctl.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_ctl.sh"

FAILOVER_MAX_MS=2000
RETURN_MAX_MS=5000

nginx_slb() { # SLB
	vsn_nginx_start "${NS_SLB_OF[$1]}" "nginx-$1" "$1"
}

# ---- the checks ----

# web on normal: slb-a answers (health probes up on both SLBs first).
normal_answers_slb_a() {
	local s

	for s in $SLBS; do
		wait_log "$VSND_LOG" 0 " vsnd slb-health: slb=$s .*to=up" 5000 || return 1
	done
	ctl_wait_answer slb-a 10000 || vsn_fail "no answer 'slb-a' from the VIP in 10 s: $ANSWERS" ||
		return 1
	echo "answers: $ANSWERS"
	ctl_show
	echo "$SHOW"
	ctl_slb_state_is slb-a up || vsn_fail "slb-a is not up in the forwarder" || return 1
	grep -q ' vsnd configuration: service=web .*to=failover' "$VSND_LOG" &&
		vsn_fail "web switched to failover before the kill: $(grep ' vsnd configuration: ' "$VSND_LOG")" &&
		return 1
	return 0
}

FAILOVER_MS=''
failover_on_kill() {
	local m t0 i

	m=$(mark "$VSND_LOG")
	t0=$(now_us)
	vsn_nginx_kill nginx-slb-a || vsn_fail "no nginx master on slb-a" || return 1
	ctl_wait_answer slb-b 10000 "$t0" ||
		vsn_fail "no answer 'slb-b' within 10 s of the kill: $ANSWERS" || return 1
	FAILOVER_MS=$WAIT_MS
	echo "first answer slb-b $FAILOVER_MS ms after the kill; answers meanwhile: $ANSWERS"
	vsn_note "failover: first answer 'slb-b' $FAILOVER_MS ms after nginx on slb-a was killed ($ANSWERS)"
	wait_log "$VSND_LOG" "$m" " vsnd slb-health: slb=slb-a .*to=down" 1000 || return 1
	wait_log "$VSND_LOG" "$m" " vsnd configuration: service=web from=normal to=failover" 1000 ||
		return 1
	since "$VSND_LOG" "$m" | grep -E ' vsnd (slb-health|configuration): '
	for i in $(seq 1 100); do
		ctl_show
		ctl_slb_state_is slb-a down && break
		sleep 0.01
	done
	echo "$SHOW"
	ctl_slb_state_is slb-a down || vsn_fail "slb-a is not down in the node's forwarder" || return 1
	[ "$FAILOVER_MS" -lt "$FAILOVER_MAX_MS" ] ||
		vsn_fail "failover took $FAILOVER_MS ms, not under $FAILOVER_MAX_MS ms"
}

RETURN_MS=''
return_on_restart() {
	local m t0

	m=$(mark "$VSND_LOG")
	t0=$(now_us)
	nginx_slb slb-a || vsn_fail "nginx did not start again on slb-a" || return 1
	ctl_wait_answer slb-a "$RETURN_MAX_MS" "$t0" ||
		vsn_fail "no answer 'slb-a' within $RETURN_MAX_MS ms of nginx's restart: $ANSWERS" ||
		return 1
	RETURN_MS=$WAIT_MS
	echo "answers: $ANSWERS"
	vsn_note "return: first answer 'slb-a' $RETURN_MS ms after nginx on slb-a restarted (dwell 2 s from the switch)"
	wait_log "$VSND_LOG" "$m" " vsnd slb-health: slb=slb-a .*to=up" 1000 || return 1
	wait_log "$VSND_LOG" "$m" " vsnd configuration: service=web from=failover to=normal" 1000 ||
		return 1
	since "$VSND_LOG" "$m" | grep -E ' vsnd (slb-health|configuration): '
	ctl_show
	ctl_slb_state_is slb-a up || vsn_fail "slb-a is not up again in the forwarder: $SHOW"
}

# ---- setup ----

slbs_start() {
	local s

	for s in $SLBS; do nginx_slb "$s" || return 1; done
}

main() {
	local t0=$SECONDS

	ctl_main_init nginx pgrep
	ctl_setup "vsnf$$-" slbs_start ctl_failover_doc --eval-interval-ms 100 --dwell-ms 2000

	ctl_check normal_answers_slb_a
	ctl_check failover_on_kill
	ctl_check return_on_restart
	ctl_check ctl_clean_stop
	vsn_note "failover ${FAILOVER_MS:-?} ms, return ${RETURN_MS:-?} ms; took $((SECONDS - t0)) s"
	vsn_tap_done
}

main "$@"

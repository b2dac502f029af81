#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The failover benchmark of `make bench BENCH=conditions` (docs/benchmarks.md, "conditions"):
# the time from the kill of an SLB's nginx to the first client request answered by another
# SLB, with vsnd probing every 100 ms (fall 2), over REPS repetitions. One JSON line on stdout:
#
#   {"bench":"failover","probe_interval_ms":100,"fall":2,"reps":20,"median_ms":..,"p95_ms":..,
#    "min_ms":..,"max_ms":..}
#
# Progress on stderr. The topology is test_failover_live.sh's (tests/netns/lib_ctl.sh): a client,
# a node with vsn-node attached (l2), vsnd, and nginx on slb-a and slb-b; web runs normal (slb-a)
# and switches to failover (slb-b) on 'not healthy(slb slb-a)'. Four clients in the client's
# namespace ask the VIP over and over (a new connection each time, 20 ms apart) and log each
# answer with its time; each repetition kills nginx on slb-a (master and workers at once: a crash), reads the
# first answer from slb-b after the kill that the following ones confirm (first_answer), then
# restarts nginx and waits for web's return.
#
#   bench-conditions/failover.sh [--reps N] [--interval-ms MS] [--fall N]
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/netns/lib.sh"
# shellcheck source=tests/netns/lib_ctl.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/netns/lib_ctl.sh"

REPS=20 INTERVAL_MS=100 FALL=2

usage() {
	echo "usage: $0 [--reps N] [--interval-ms MS] [--fall N]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--reps) REPS=${2:-} && shift ;;
	--interval-ms) INTERVAL_MS=${2:-} && shift ;;
	--fall) FALL=${2:-} && shift ;;
	*) usage ;;
	esac
	shift
done
for v in "$REPS" "$INTERVAL_MS" "$FALL"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || usage
done
CTL_PROBE_INTERVAL_MS=$INTERVAL_MS CTL_PROBE_FALL=$FALL

progress() { echo "failover: $*" >&2; }

slbs_start() {
	local s

	for s in $SLBS; do vsn_nginx_start "${NS_SLB_OF[$s]}" "nginx-$s" "$s" || return 1; done
}

# The clients: ASKERS loops, each asking the VIP over and over; "TIME_US ANSWER" lines in
# $S/answers.N.log. Several, as real traffic is: a request whose SYN is dropped (in the few ms
# between the node marking slb-a down and the switch's set, web's only SLB is down) waits out
# its connect timeout, the others go on.
ASKERS=4
askers_start() {
	local i

	for ((i = 0; i < ASKERS; i++)); do
		bg_in "$NS_CLIENT" "$S/answers.$i.log" bash -c "while :; do
			a=\$(curl -s --connect-timeout 0.2 --max-time 0.3 http://$VIP/ 2>/dev/null)
			echo \"\${EPOCHREALTIME/./} \${a:-none}\"
			sleep 0.02
		done" || return 1
	done
}

# first_answer NAME SINCE_US TIMEOUT_MS: the time (µs) of the first answer NAME after SINCE_US
# that begins a run of 5 answers NAME, where no request failed after it. (Before the switch a
# new connection can reach slb-b: the node's connection table still maps a reused client port
# to where an earlier connection on it went; that is not the failover.)
first_answer() {
	local t0 t

	t0=$(now_us)
	while :; do
		t=$(sort -n "$S"/answers.*.log | awk -v n="$1" -v s="$2" '$1 <= s { next }
			$2 != n { run = 0; next }
			run == 0 { first = $1 }
			++run == 5 { print first; exit }')
		[ -n "$t" ] && echo "$t" && return 0
		[ "$(ms_since "$t0")" -lt "$3" ] || return 1
		sleep 0.02
	done
}

main() {
	local r t0 t1 ms samples=()

	ctl_main_init nginx
	exec 3>&2 # notes go with the progress, stdout is the JSON line's
	progress "setting up (probe interval $INTERVAL_MS ms, fall $FALL, $REPS repetitions)"
	ctl_setup "vsnb$$-" slbs_start ctl_failover_doc --dwell-ms 1000 >&2
	askers_start || exit 1
	first_answer slb-a 0 10000 >/dev/null || {
		echo "failover: no answer 'slb-a' from the VIP in 10 s" >&2
		tail -n 5 "$S"/answers.*.log >&2
		exit 1
	}
	for ((r = 1; r <= REPS; r++)); do
		t0=$(now_us)
		vsn_nginx_kill nginx-slb-a || {
			echo "failover: no nginx running on slb-a" >&2
			exit 1
		}
		t1=$(first_answer slb-b "$t0" 10000) || {
			echo "failover: no answer 'slb-b' within 10 s of the kill (repetition $r)" >&2
			exit 1
		}
		ms=$(((t1 - t0 + 500) / 1000))
		samples+=("$ms")
		progress "repetition $r: first answer from slb-b $ms ms after the kill (at $t0 us)"
		# Back to normal: nginx again, web's return after the dwell, slb-a answering.
		t0=$(now_us)
		vsn_nginx_start "${NS_SLB_OF[slb-a]}" nginx-slb-a slb-a >&2 &&
			first_answer slb-a "$t0" 15000 >/dev/null || {
			echo "failover: slb-a does not answer again (repetition $r)" >&2
			exit 1
		}
	done
	printf '%s\n' "${samples[@]}" | sort -n | awk -v iv="$INTERVAL_MS" -v fall="$FALL" '
		{ v[NR] = $1 }
		END {
			n = NR
			med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			k = int(0.95 * n + 0.999999); if (k < 1) k = 1
			printf "{\"bench\":\"failover\",\"probe_interval_ms\":%d,\"fall\":%d,\"reps\":%d,", iv, fall, n
			printf "\"median_ms\":%g,\"p95_ms\":%d,\"min_ms\":%d,\"max_ms\":%d}\n", med, v[k], v[1], v[n]
		}'
	ctl_clean_stop >&2 || exit 1
}

main "$@"

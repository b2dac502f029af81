#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Automatic configuration switching end to end (issue 8), with real processes and real TCP: vsnd
# in controller mode scrapes slb-a's HAProxy for its load, probes both SLBs' health and reads the
# clock; the conditions of the document switch the configurations of two services on the node (a
# vsn-node agent attached to its client-facing veth, l2, direct server return), held back by the
# dwell. The topology, vsnd, the agent and the CLI are tests/netns/lib_ctl.sh's. Root only (exit
# 77 otherwise). Prints TAP lines and closes with "N passed, M failed".
#
#  +-----------------+      +-------------------------------+      +------------------------------+
#  | ns client       |      | ns node                       |  sl1 | ns slb-a: eth0 10.100.2.2    |
#  | eth0 10.100.1.2 |------| cli0 [XDP vsn]       sl1 .2.1|------|  HAProxy :80 web (maxconn 4),|
#  | 192.0.2.80 via  | veth | 10.100.1.1            sl2 .3.1|------|   :8080 batch, :8405 /health |
#  |   the node;     |      | vsnd --eval-interval-ms 500   |  sl2 |   -> nginx 127.0.0.1:8081    |
#  | curl, socat     |      |   --dwell-ms 3000: probes     |      |   "slb-a"; :8404 HAProxy's   |
#  +-----------------+      |   :8405, scrapes :8404;       |      |   stats page (/stats;csv)    |
#                           | vsn-node node1 (on cli0)      |      | ns slb-b: eth0 10.100.3.2,   |
#                           +-------------------------------+      |   the same, "slb-b"          |
#                                                                  | lo 192.0.2.80 on both        |
#                                                                  +------------------------------+
#
# The document (write_doc):
#   web   192.0.2.80 tcp/80:   normal (default, slb-a); overflow (priority 20, slb-b) when
#         'load(slb slb-a) > 0.5', slb-a's load being its HAProxy frontend web's scur / slim
#         (maxconn 4), scraped every 200 ms; failover (priority 30, slb-b) when
#         'not healthy(slb slb-a)', probed every 100 ms on :8405 (fall 2, rise 2)
#   batch 192.0.2.80 tcp/8080: day (default, slb-a); window (slb-b) when 'schedule("DAY
#         HH:MM-HH:MM UTC")', a window that opens at the first minute boundary at least 10 s
#         after the document is written (schedules have minutes, not seconds) and lasts 10 min
#
# Checks, in order (each starts from the state the previous one left):
#   normal_answers_slb_a    probes up; web (tcp/80) and batch (tcp/8080) answered by slb-a; no
#                           switch yet
#   overflow_on_load        3 idle TCP connections held through the VIP to slb-a's HAProxy (scur
#                           3 of 4): web switches normal -> overflow within 3 s (vsnd log and
#                           vsn events, values load(slb slb-a)=0.75) and curl to the VIP is
#                           answered by slb-b; the connections closed (scur 0), web stays on
#                           overflow (still slb-b) and returns to normal no sooner than the dwell
#                           after the switch and within the dwell + 3 s; then slb-a answers
#   flapping_slb_dwell      slb-a's probes rejected (nftables) then let through, 3 times: each
#                           down switches web to failover within 1.5 s, also when the last switch
#                           (the return before) is less than the dwell ago; a second down/up flap
#                           within the dwell changes nothing; each return comes no sooner than
#                           the dwell after the failover (within the dwell + 3 s); exactly 6
#                           switches, alternating, in the log and in vsn events
#   schedule_window_opens   batch switches day -> window once (log, vsn events), no sooner than
#                           the window's opening, and both the switch (log) and its event are
#                           within one evaluation interval + 750 ms of it (their times: the
#                           window may open while the checks before run); slb-b answers tcp/8080
#   malformed_condition_rejected_at_apply
#                           vsn apply of a document whose overflow `when` is malformed
#                           ('load(slb slb-a) >') or names an unknown SLB ('load(slb nosuch) >
#                           0.5') exits 1 with FILE:LINE:COLUMN at the fault (as vsn validate);
#                           the revision, the events, the services' status, the document in
#                           force and the node's forwarder are unchanged, and traffic still
#                           flows as before
#   clean_stop              SIGTERM stops vsnd and the agent with status 0; no sanitizer report
#
#   VSND=build/san/vsnd VSN_NODE=build/san/vsn-node tests/netns/test_conditions_live.sh
#                                               sanitizer builds (also VSN, VSN_DPCTL)
#   VSN_VERBOSE=1 ...                           narrates cleanup
#   VSN_LOG_DIR=DIR ...                         keeps the logs, documents and configurations
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/netns/lib_ctl.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_ctl.sh"

EVAL_MS=500   # vsnd --eval-interval-ms
DWELL_MS=3000 # vsnd --dwell-ms
# The bounds. Lower ones are about the dwell and tight (a log line's time against another's;
# DWELL_TOL_MS for the work between vsnd's evaluation and its line); upper ones are generous for
# a slow machine.
DWELL_TOL_MS=100
OVERFLOW_MAX_MS=3000 # held connections to the switch: a scrape (200 ms), an evaluation (500 ms)
RETURN_SLACK_MS=3000 # a return within the dwell + this
FLAP_FAILOVER_MAX_MS=1500 # probes rejected to the switch: fall 2 x 100 ms, and a push
FLAPS=3
SCHED_LEAD_S=10 # the window opens at the first minute boundary at least this far ahead
SCHED_MARGIN_MS=750
HOLD_CONNS=3 # of HAProxy's maxconn 4: a load of 0.75

SCHED_OPEN=0 SCHED_SPEC=''

# ---- what serves on the SLBs ----

# slb_servers SLB: nginx on 127.0.0.1:8081 answering the SLB's name, behind HAProxy: frontend
# web on :80 (maxconn 4, the load), batch on :8080, and a health URI on :8405 (the probes: a
# saturated web must not look down), and HAProxy's own stats page on :8404 (/stats;csv), which
# vsnd scrapes (HAProxy 2.6 answers it in chunks even to vsnd's HTTP/1.0 request).
slb_servers() {
	local s=$1 ns=${NS_SLB_OF[$1]} d=$S/srv-$1 port n i

	vsn_nginx_conf "$d" 64 "		listen 127.0.0.1:8081;
		default_type text/plain;
		location / { return 200 \"$s\\n\"; }" || return 1
	cat >"$d/haproxy.cfg" <<EOF
global
	maxconn 200
	pidfile $d/haproxy.pid
defaults
	mode http
	timeout connect 1s
	timeout client 60s
	timeout server 60s
	timeout http-request 60s
frontend web
	bind :80
	maxconn 4
	default_backend app
frontend batch
	bind :8080
	default_backend app
frontend health
	bind :8405
	monitor-uri /health
frontend stats
	bind :8404
	stats enable
	stats uri /stats
backend app
	server nginx 127.0.0.1:8081
EOF
	vsn_register pidfile "$d/nginx.pid" "$ns"
	vsn_register pidfile "$d/haproxy.pid" "$ns"
	if ! vsn_ns "$ns" nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log" </dev/null \
		>"$d/nginx.out" 2>&1 ||
		! vsn_ns "$ns" haproxy -f "$d/haproxy.cfg" -D </dev/null >"$d/haproxy.out" 2>&1; then
		echo "nginx or HAProxy did not start on $s:" >&2
		cat "$d"/*.out "$d/error.log" >&2 2>/dev/null
		return 1
	fi
	for i in $(seq 1 50); do
		n=0
		for port in 80 8080 8081 8404 8405; do
			[ -n "$(vsn_ns "$ns" ss -Hltn "sport = :$port")" ] && n=$((n + 1))
		done
		[ "$n" -eq 5 ] && [ -s "$d/haproxy.pid" ] && [ -s "$d/nginx.pid" ] && return 0
		sleep 0.1
	done
	echo "nothing listens on some of 80 8080 8081 8404 8405 on $s" >&2
	return 1
}

slbs_start() {
	local s

	for s in $SLBS; do slb_servers "$s" || return 1; done
	# slb-a's probes can be rejected: check flapping_slb_dwell's switch.
	vsn_ns "${NS_SLB_OF[slb-a]}" nft -f - <<EOF
table inet flap {
	chain in {
		type filter hook input priority 0;
	}
}
EOF
}

# probes_reject on|off: slb-a resets the connections of its health probes (port 8405), or not.
probes_reject() {
	if [ "$1" = on ]; then
		vsn_ns "${NS_SLB_OF[slb-a]}" nft add rule inet flap in tcp dport 8405 reject with tcp reset
	else
		vsn_ns "${NS_SLB_OF[slb-a]}" nft flush chain inet flap in
	fi
}

# haproxy_scur SLB: the current sessions of its frontend web, read from the node where vsnd
# reads them (the CSV's columns found by name).
haproxy_scur() {
	vsn_ns "$NS_NODE" curl -s --max-time 1 "http://${ADDR_OF[$1]}:8404/stats;csv" |
		awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "scur") c = i; next }
			$1 == "web" && $2 == "FRONTEND" { print $c; found = 1 }
			END { exit !found }'
}

# ---- the document ----

# sched_window: the window of batch's schedule, opening at the first minute boundary at least
# SCHED_LEAD_S from now (SCHED_OPEN, seconds since the epoch), for 10 minutes (SCHED_SPEC).
sched_window() {
	local now

	now=$(date +%s)
	SCHED_OPEN=$(((now + SCHED_LEAD_S + 59) / 60 * 60))
	SCHED_SPEC="$(date -u -d "@$SCHED_OPEN" +'%a %H:%M')-$(date -u -d "@$((SCHED_OPEN + 600))" \
		+%H:%M) UTC"
}

# write_doc FILE [OVERFLOW_WHEN]: the document (above); the overflow configuration's `when`
# replaced by OVERFLOW_WHEN (malformed_condition_rejected_at_apply). The schedule is the one
# sched_window made.
write_doc() {
	local when=${2:-'load(slb slb-a) > 0.5'}

	[ -n "$SCHED_SPEC" ] || sched_window
	cat >"$1" <<EOF
nodes:
  - name: node1
slbs:
  - name: slb-a
    address: ${ADDR_OF[slb-a]}
    health: {http: {port: 8405, path: /health}, interval: 100ms, timeout: 80ms, rise: 2, fall: 2}
    load:
      haproxy_csv: 'http://${ADDR_OF[slb-a]}:8404/stats;csv'
      proxy: web
      server: FRONTEND
      interval: 200ms
      timeout: 150ms
  - name: slb-b
    address: ${ADDR_OF[slb-b]}
    health: {http: {port: 8405, path: /health}, interval: 100ms, timeout: 80ms, rise: 2, fall: 2}
virtual_services:
  - name: web
    vip: $VIP
    ports: [tcp/80]
    nodes: [node1]
    configurations:
      - name: normal
        policies:
          - destination: slb-a
      - name: overflow
        priority: 20
        when: '$when'
        policies:
          - destination: slb-b
      - name: failover
        priority: 30
        when: 'not healthy(slb slb-a)'
        policies:
          - destination: slb-b
  - name: batch
    vip: $VIP
    ports: [tcp/8080]
    nodes: [node1]
    configurations:
      - name: day
        policies:
          - destination: slb-a
      - name: window
        priority: 10
        when: 'schedule("$SCHED_SPEC")'
        policies:
          - destination: slb-b
EOF
}

# ---- helpers of the checks ----

# last_event_id: the newest event's id (0: none).
last_event_id() {
	ctl_cli events --limit 1
	awk 'NR == 2 { print $1; f = 1 } END { if (!f) print 0 }' <<<"$OUT"
}

# cfg_events SINCE SERVICE N: from vsn events, SERVICE's configuration events after event SINCE,
# one a line: "TIME from=A to=B", in EV; polled for up to 5 s until there are N (vsnd records a
# switch once the nodes have acknowledged its sets, after its log line).
EV=''
cfg_events() {
	local t0

	t0=$(now_us)
	while :; do
		ctl_cli events --since "$1" --limit 1000
		EV=$(awk -v s="$2" '$3 == "configuration" && $4 == s {
			f = ""; t = ""
			for (i = 5; i <= NF; i++) {
				if (f == "" && $i ~ /^from=/) f = $i
				if (t == "" && $i ~ /^to=/) t = $i
			}
			print $2, f, t
		}' <<<"$OUT")
		[ "$(grep -c . <<<"$EV")" -ge "$3" ] && return 0
		[ "$(ms_since "$t0")" -ge 5000 ] && return 1
		sleep 0.05
	done
}

# switch_re SERVICE [FROM TO]: the regex of the vsnd log's line of a switch of SERVICE (from
# FROM to TO), logged when vsnd decides it (with reason=), not the one logged when the nodes
# have acknowledged it (with nodes=).
switch_re() { echo " vsnd configuration: service=$1 from=${2:-[a-z]+} to=${3:-[a-z]+} reason="; }

# switch_line MARK SERVICE FROM TO: the first line of that switch after MARK.
switch_line() { since "$VSND_LOG" "$1" | grep -m 1 -E "$(switch_re "$2" "$3" "$4")"; }

# status_reason SERVICE: why SERVICE runs its configuration, from vsn status.
status_reason() {
	ctl_cli status
	awk -v s="$1" '$1 == "SERVICE" { on = 1; next } on && NF == 0 { exit }
		on && $1 == s { $1 = ""; print substr($0, 2); exit }' <<<"$OUT"
}

# sleep_until_ms T: sleep until the wall clock reads T (ms since the epoch).
sleep_until_ms() {
	local left=$(($1 - $(ctl_now_ms)))

	((left > 0)) && sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
	return 0
}

# ---- the checks ----

normal_answers_slb_a() {
	local s

	for s in $SLBS; do
		wait_log "$VSND_LOG" 0 " vsnd slb-health: slb=$s .*to=up" 5000 || return 1
	done
	ctl_wait_answer slb-a 10000 || vsn_fail "web: no answer 'slb-a' in 10 s: $ANSWERS" || return 1
	ctl_wait_answer slb-a 5000 '' 8080 ||
		vsn_fail "batch: no answer 'slb-a' in 5 s: $ANSWERS" || return 1
	ctl_cli status
	echo "$OUT"
	if grep ' vsnd configuration: ' "$VSND_LOG"; then
		vsn_fail "a switch before any check (the window opens at $(date -u -d "@$SCHED_OPEN"))"
		return 1
	fi
	return 0
}

OVERFLOW_MS='' OVERFLOW_RETURN_MS='' HOLD_PIDS=()
overflow_on_load() {
	local rc p

	overflow_steps
	rc=$?
	# Whatever failed, the next checks start without the held connections.
	for p in "${HOLD_PIDS[@]}"; do alive "$p" && stop_pid "$p" TERM; done
	HOLD_PIDS=()
	return $rc
}

overflow_steps() {
	local m ev0 i p t_held scur line sw_ms ret_ms t_drop d why

	m=$(mark "$VSND_LOG")
	ev0=$(last_event_id)
	for i in $(seq 1 "$HOLD_CONNS"); do
		# Idle connections: HAProxy counts each as a session of its frontend until it closes.
		bg_in "$NS_CLIENT" "$S/hold.log" socat "TCP:$VIP:80,connect-timeout=2" EXEC:"sleep 120"
		HOLD_PIDS+=("$BG_PID")
	done
	for i in $(seq 1 100); do
		scur=$(haproxy_scur slb-a)
		[ "${scur:-0}" -ge "$HOLD_CONNS" ] && break
		sleep 0.05
	done
	t_held=$(ctl_now_ms)
	[ "${scur:-0}" -eq "$HOLD_CONNS" ] ||
		vsn_fail "slb-a's HAProxy has ${scur:-no} sessions on web, not $HOLD_CONNS" || return 1
	echo "$HOLD_CONNS connections held: scur $scur of maxconn 4"
	wait_log "$VSND_LOG" "$m" "$(switch_re web normal overflow)" \
		$((OVERFLOW_MAX_MS + 5000)) || return 1
	line=$(switch_line "$m" web normal overflow)
	echo "$line"
	sw_ms=$(ctl_log_ms "$line")
	OVERFLOW_MS=$((sw_ms - t_held))
	[ "$OVERFLOW_MS" -le "$OVERFLOW_MAX_MS" ] ||
		vsn_fail "the switch came $OVERFLOW_MS ms after the connections, not within $OVERFLOW_MAX_MS" ||
		return 1
	grep -qF 'values="load(slb slb-a)=0.75 > 0.5"' <<<"$line" ||
		vsn_fail "the switch does not say load(slb slb-a)=0.75 > 0.5" || return 1
	ctl_wait_answer slb-b 2000 || vsn_fail "no answer 'slb-b' on overflow: $ANSWERS" || return 1
	echo "on overflow, answers: $ANSWERS"

	for p in "${HOLD_PIDS[@]}"; do stop_pid "$p" TERM; done
	for i in $(seq 1 100); do
		scur=$(haproxy_scur slb-a)
		[ "${scur:-1}" -eq 0 ] && break
		sleep 0.05
	done
	t_drop=$(ctl_now_ms)
	[ "${scur:-1}" -eq 0 ] ||
		vsn_fail "slb-a's HAProxy still has ${scur:-?} sessions after the close" || return 1
	echo "connections closed: scur 0 $((t_drop - sw_ms)) ms after the switch"
	# vsnd has scraped the 0 and evaluated by t_drop + 800 ms: the dwell alone holds overflow.
	if [ $((t_drop + 800)) -lt $((sw_ms + DWELL_MS - 400)) ]; then
		sleep_until_ms $((t_drop + 800))
		why=$(status_reason web)
		echo "web at $(($(ctl_now_ms) - sw_ms)) ms: $why"
		[[ $why == *"the dwell keeps 'overflow'"* ]] ||
			vsn_fail "load 0 but the dwell does not hold overflow: $why" || return 1
		[ "$(ctl_ask)" = slb-b ] || vsn_fail "slb-b does not answer while the dwell holds" ||
			return 1
	else
		vsn_note "overflow: the close came too late to see the dwell hold ($((t_drop - sw_ms)) ms)"
	fi
	wait_log "$VSND_LOG" "$m" "$(switch_re web overflow normal)" \
		$((sw_ms + DWELL_MS + RETURN_SLACK_MS + 2000 - $(ctl_now_ms))) || return 1
	line=$(switch_line "$m" web overflow normal)
	echo "$line"
	ret_ms=$(ctl_log_ms "$line")
	OVERFLOW_RETURN_MS=$((ret_ms - sw_ms))
	d=$OVERFLOW_RETURN_MS
	[ "$d" -ge $((DWELL_MS - DWELL_TOL_MS)) ] ||
		vsn_fail "web returned $d ms after the switch, sooner than the dwell ($DWELL_MS ms)" ||
		return 1
	[ "$d" -le $((DWELL_MS + RETURN_SLACK_MS)) ] ||
		vsn_fail "web returned $d ms after the switch, not within $((DWELL_MS + RETURN_SLACK_MS))" ||
		return 1
	ctl_wait_answer slb-a 3000 || vsn_fail "no answer 'slb-a' after the return: $ANSWERS" ||
		return 1
	[ "$(count_log "$VSND_LOG" "$m" "$(switch_re web)")" -eq 2 ] ||
		vsn_fail "not 2 switches of web: $(since "$VSND_LOG" "$m" | grep ' configuration: ')" ||
		return 1
	cfg_events "$ev0" web 2
	echo "vsn events: $EV"
	[ "$(awk '{ print $2, $3 }' <<<"$EV" | tr '\n' ';')" = \
		"from=normal to=overflow;from=overflow to=normal;" ] ||
		vsn_fail "vsn events does not have the 2 switches: $OUT" || return 1
	vsn_note "overflow: switch $OVERFLOW_MS ms after $HOLD_CONNS connections;" \
		"return $d ms after it (dwell $DWELL_MS)"
}

FLAP_NOTE=''
flapping_slb_dwell() {
	local rc

	flap_steps
	rc=$?
	probes_reject off # whatever failed, the next checks start with slb-a's probes through
	return $rc
}

flap_steps() {
	local m ev0 i mi mj t_down line fo_ms ret_ms prev_ret d n extra=0 order

	m=$(mark "$VSND_LOG")
	ev0=$(last_event_id)
	# The last switch of web (overflow_on_load's return), if any: the dwell runs from it.
	line=$(grep -E "$(switch_re web)" "$VSND_LOG" | tail -n 1)
	prev_ret=0
	[ -z "$line" ] || prev_ret=$(ctl_log_ms "$line")
	for i in $(seq 1 "$FLAPS"); do
		mi=$(mark "$VSND_LOG")
		t_down=$(ctl_now_ms)
		probes_reject on || return 1
		wait_log "$VSND_LOG" "$mi" "$(switch_re web normal failover)" \
			$((FLAP_FAILOVER_MAX_MS + 5000)) || return 1
		line=$(switch_line "$mi" web normal failover)
		fo_ms=$(ctl_log_ms "$line")
		d=$((fo_ms - t_down))
		echo "flap $i: failover $d ms after the probes were rejected," \
			"$((fo_ms - prev_ret)) ms after the last switch"
		[ "$d" -le "$FLAP_FAILOVER_MAX_MS" ] ||
			vsn_fail "flap $i: failover $d ms after the probes failed, not within $FLAP_FAILOVER_MAX_MS" ||
			return 1
		# From flap 2 on, the previous return was less than the dwell ago (the probes were
		# rejected right after it): a failover is not held back.
		[ "$i" -eq 1 ] || [ $((fo_ms - prev_ret)) -lt "$DWELL_MS" ] ||
			vsn_fail "flap $i: failover $((fo_ms - prev_ret)) ms after the return: held back" ||
			return 1
		FLAP_NOTE+="failover +$d ms"
		# Up, then down and up again, within the dwell: nothing to switch.
		mj=$(mark "$VSND_LOG")
		probes_reject off || return 1
		wait_log "$VSND_LOG" "$mj" " vsnd slb-health: slb=slb-a .*to=up" 3000 || return 1
		if [ $(($(ctl_now_ms) + 1200)) -lt $((fo_ms + DWELL_MS)) ]; then
			mj=$(mark "$VSND_LOG")
			probes_reject on || return 1
			wait_log "$VSND_LOG" "$mj" " vsnd slb-health: slb=slb-a .*to=down" 3000 || return 1
			mj=$(mark "$VSND_LOG")
			probes_reject off || return 1
			wait_log "$VSND_LOG" "$mj" " vsnd slb-health: slb=slb-a .*to=up" 3000 || return 1
			extra=$((extra + 1))
		fi
		wait_log "$VSND_LOG" "$mi" "$(switch_re web failover normal)" \
			$((fo_ms + DWELL_MS + RETURN_SLACK_MS + 2000 - $(ctl_now_ms))) || return 1
		line=$(switch_line "$mi" web failover normal)
		ret_ms=$(ctl_log_ms "$line")
		d=$((ret_ms - fo_ms))
		echo "flap $i: return $d ms after the failover"
		[ "$d" -ge $((DWELL_MS - DWELL_TOL_MS)) ] ||
			vsn_fail "flap $i: return $d ms after the failover, sooner than the dwell" ||
			return 1
		[ "$d" -le $((DWELL_MS + RETURN_SLACK_MS)) ] ||
			vsn_fail "flap $i: return $d ms after the failover, over $((DWELL_MS + RETURN_SLACK_MS))" ||
			return 1
		FLAP_NOTE+=", return +$d ms; "
		prev_ret=$ret_ms
	done
	since "$VSND_LOG" "$m" | grep -E ' vsnd (slb-health: slb=slb-a|configuration: service=web) '
	# Exactly the switches above: none for the flaps within the dwell.
	order=$(since "$VSND_LOG" "$m" | grep -E "$(switch_re web)" |
		sed -E 's/.* (from=[a-z]+ to=[a-z]+) .*/\1/' | tr '\n' ';')
	n=$(count_log "$VSND_LOG" "$m" "$(switch_re web)")
	[ "$n" -eq $((2 * FLAPS)) ] ||
		vsn_fail "$n switches of web in the log, not $((2 * FLAPS)): $order" || return 1
	[ "$order" = "$(for i in $(seq 1 "$FLAPS"); do
		printf 'from=normal to=failover;from=failover to=normal;'
	done)" ] || vsn_fail "the switches do not alternate: $order" || return 1
	cfg_events "$ev0" web $((2 * FLAPS))
	[ "$(grep -c . <<<"$EV")" -eq $((2 * FLAPS)) ] ||
		vsn_fail "vsn events has not $((2 * FLAPS)) switches of web: $EV" || return 1
	[ "$extra" -ge 1 ] || vsn_fail "no flap within the dwell could be made" || return 1
	ctl_wait_answer slb-a 3000 || vsn_fail "no answer 'slb-a' after the flaps: $ANSWERS" ||
		return 1
	vsn_note "flaps (dwell $DWELL_MS ms, $extra within it): $FLAP_NOTE"
}

SCHED_MS='' SCHED_EV_MS=''
schedule_window_opens() {
	local open_ms=$((SCHED_OPEN * 1000)) max=$((EVAL_MS + SCHED_MARGIN_MS)) line

	echo "window: $SCHED_SPEC, opens at $(date -u -d "@$SCHED_OPEN" +%T) UTC," \
		"$((open_ms - $(ctl_now_ms))) ms from now"
	wait_log "$VSND_LOG" 0 "$(switch_re batch)" $((open_ms + max + 3000 - $(ctl_now_ms))) ||
		return 1
	line=$(grep -E "$(switch_re batch)" "$VSND_LOG")
	echo "$line"
	[ "$(grep -c . <<<"$line")" -eq 1 ] || vsn_fail "not one switch of batch" || return 1
	grep -qF " from=day to=window " <<<"$line" || vsn_fail "not day -> window" || return 1
	grep -qF "schedule(\"$SCHED_SPEC\")=true" <<<"$line" ||
		vsn_fail "the switch does not say schedule(\"$SCHED_SPEC\")=true" || return 1
	cfg_events 0 batch 1
	echo "vsn events: $EV"
	[ "$(awk '{ print $2, $3 }' <<<"$EV")" = "from=day to=window" ] ||
		vsn_fail "vsn events has not one switch day -> window" || return 1
	# When vsnd switched (its log line), and when it recorded the switch (the event: once the
	# node acknowledged), against the opening.
	SCHED_MS=$(($(ctl_log_ms "$line") - open_ms))
	SCHED_EV_MS=$(($(ctl_time_ms "${EV%% *}") - open_ms))
	echo "switched $SCHED_MS ms after the opening, recorded $SCHED_EV_MS ms after it"
	[ "$SCHED_MS" -ge 0 ] ||
		vsn_fail "batch switched $((-SCHED_MS)) ms before the window opened" || return 1
	[ "$SCHED_MS" -le "$max" ] && [ "$SCHED_EV_MS" -le "$max" ] ||
		vsn_fail "batch switched (or was recorded) later than $max ms after the opening" ||
		return 1
	ctl_wait_answer slb-b 2000 '' 8080 ||
		vsn_fail "batch: no answer 'slb-b' in the window: $ANSWERS" || return 1
	vsn_note "schedule: switch $SCHED_MS ms (event $SCHED_EV_MS ms) after the window opened" \
		"(eval interval $EVAL_MS ms)"
}

# The state a rejected apply must leave as it was, in the file $1.
snapshot() {
	{
		ctl_cli history --limit 1
		echo "history: $(awk 'NR == 2 { print $1 }' <<<"$OUT")"
		echo "last event: $(last_event_id)"
		ctl_cli status
		awk '$1 == "SERVICE" { on = 1 } on && NF == 0 { exit } on' <<<"$OUT"
		ctl_cli get state
		echo "state: $(cksum <<<"$OUT")"
		ctl_show
		grep -E '^generation| -> ' <<<"$SHOW" # the set: generation, SLBs, policies
		echo "agent applies: $(grep -c ' vsn-node apply: ' "$NODE_LOG")"
	} >"$1"
}

malformed_condition_rejected_at_apply() {
	local when msg what k f ln col bad=0 web batch

	snapshot "$S/before.out"
	cat "$S/before.out"
	web=$(ctl_ask) batch=$(ctl_ask 8080)
	echo "answers: web $web, batch $batch"
	[ -n "$web" ] && [ -n "$batch" ] || vsn_fail "no answer from the VIP before" || return 1
	for k in 1 2; do
		if [ "$k" = 1 ]; then
			when='load(slb slb-a) >' what=END
			msg="when: expected a number after '>', not the end"
		else
			when='load(slb nosuch) > 0.5' what=nosuch
			msg="when: no slb is named 'nosuch'"
		fi
		f=$S/bad$k.yaml
		write_doc "$f" "$when"
		# Where the fault is: the line of the `when`, the column of the unknown name or of
		# the end of the condition.
		ln=$(grep -nF "when: '$when'" "$f" | cut -d: -f1)
		col=$(awk -v n="$ln" -v w="$when" -v x="$what" 'NR == n {
			i = index($0, "'\''" w "'\''") + 1
			print x == "END" ? i + length(w) : index($0, x) }' "$f")
		ctl_cli apply -f "$f" -m malformed
		echo "\$ vsn apply -f $f -> $RC"
		echo "$OUT"
		[ "$RC" -eq 1 ] || vsn_fail "vsn apply exited $RC, not 1" || bad=1
		grep -qF "(HTTP 400)" <<<"$OUT" || vsn_fail "not an HTTP 400" || bad=1
		grep -qxF "$f:$ln:$col: $msg" <<<"$OUT" ||
			vsn_fail "no '$f:$ln:$col: $msg' in the answer" || bad=1
		ctl_cli validate "$f"
		grep -qxF "$f:$ln:$col: $msg" <<<"$OUT" ||
			vsn_fail "vsn validate does not say '$f:$ln:$col: $msg': $OUT" || bad=1
	done
	snapshot "$S/after.out"
	diff "$S/before.out" "$S/after.out" ||
		vsn_fail "the rejected applies changed the state above" || bad=1
	ctl_wait_answer "$web" 2000 || vsn_fail "web: no answer '$web': $ANSWERS" || bad=1
	ctl_wait_answer "$batch" 2000 '' 8080 ||
		vsn_fail "batch: no answer '$batch': $ANSWERS" || bad=1
	return $bad
}

main() {
	local t0=$SECONDS

	ctl_main_init nginx haproxy socat nft cksum
	ctl_setup "vsnk$$-" slbs_start write_doc --eval-interval-ms "$EVAL_MS" --dwell-ms "$DWELL_MS"
	vsn_note "batch's window: schedule(\"$SCHED_SPEC\"), opens in $((SCHED_OPEN - $(date +%s))) s"

	ctl_check normal_answers_slb_a
	ctl_check overflow_on_load
	ctl_check flapping_slb_dwell
	ctl_check schedule_window_opens
	ctl_check malformed_condition_rejected_at_apply
	ctl_check ctl_clean_stop
	vsn_note "took $((SECONDS - t0)) s"
	vsn_tap_done
}

main "$@"

#!/usr/bin/env bash
# Run every test tier and end on one line CI can read: 'N passed, M failed, K skipped'.
#
# Tiers, by privilege (STYLE.md): unit (nothing; with tests/docs/test_*.sh, the
# docs' commands against the build), fuzz (nothing; brief runs of each libFuzzer
# target), packet (CAP_BPF: BPF_PROG_TEST_RUN), netns (root: real processes in
# network namespaces). The sanitizer (ASan+UBSan) build runs
# the unit and packet tiers too. Each tier has a time budget so the whole
# suite stays well under an hour as it grows: a tier that overruns fails.
#
#   scripts/run-tests.sh [TIER...]      (default: unit fuzz packet netns)
#   FUZZ_SECONDS=N                      seconds per fuzz target (default 10)
set -uo pipefail

cd "$(dirname "$0")/.."
B=${B:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
declare -A BUDGET=([unit]=120 [fuzz]=180 [packet]=900 [netns]=1200)
# Longer fuzzing on demand (make fuzz): the tier's budget grows with it.
n_fuzz=$(ls "$B"/fuzz/fuzz_* 2>/dev/null | wc -l)
[ $((FUZZ_SECONDS * n_fuzz + 60)) -gt "${BUDGET[fuzz]}" ] &&
	BUDGET[fuzz]=$((FUZZ_SECONDS * n_fuzz + 60))
TIERS=("$@")
[ ${#TIERS[@]} -eq 0 ] && TIERS=(unit fuzz packet netns)

passed=0 failed=0 skipped=0
failures=()
LOG=$(mktemp -d /tmp/vsn-tests.XXXXXX)
trap 'rm -rf "$LOG"' EXIT

ensure_bpffs() {
	[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] ||
		mount -t bpf bpf /sys/fs/bpf
}

# Count what one test program reported; a crash without a summary is a failure.
tally() { # name log rc
	local name=$1 log=$2 rc=$3 p f s
	if [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1))
		echo "SKIP $name: $(tail -n 1 "$log")"
		return
	fi
	p=$(grep -aoE '^\[  PASSED  \] [0-9]+' "$log" | awk '{s+=$NF} END {print s+0}')
	f=$(grep -aoE '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$(NF-1)} END {print s+0}')
	if grep -aqE '^[0-9]+ passed, [0-9]+ failed' "$log"; then
		read -r p f s < <(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 |
			sed -E 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?.*/\1 \2 \4/')
		skipped=$((skipped + ${s:-0}))
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		failures+=("$name")
		echo "FAIL $name (exit $rc); its output:"
		sed 's/^/    /' "$log" | tail -n 60
	else
		echo "ok   $name ($p passed)"
	fi
}

run_one() { # tier name budget cmd...
	local tier=$1 name=$2 budget=$3 log rc
	shift 3
	log="$LOG/$(echo "$tier-$name" | tr '/ ' '__').log"
	timeout --kill-after=10 "$budget" "$@" >"$log" 2>&1
	rc=$?
	[ $rc -eq 124 ] && echo "timed out after ${budget}s" >>"$log"
	tally "$tier/$name" "$log" "$rc"
}

tier_deadline() { echo $(($(date +%s) + BUDGET[$1])); }
left() { local l=$(($1 - $(date +%s))); [ $l -gt 0 ] && echo $l || echo 1; }

run_bins() { # tier dir
	local tier=$1 dir=$2 end bin
	end=$(tier_deadline "$tier")
	for variant in "$B" "$B/san"; do
		for bin in "$variant/tests/$dir"/test_*; do
			[ -x "$bin" ] || continue
			run_one "$tier" "${bin#"$B"/}" "$(left "$end")" "$bin"
		done
	done
}

# The unit tier also runs the checks of the docs' commands against the build (tests/docs).
tier_unit() {
	local t end

	end=$(tier_deadline unit)
	run_bins unit unit
	for t in tests/docs/test_*.sh; do
		[ -x "$t" ] || continue
		run_one unit "${t#tests/}" "$(left "$end")" "$t"
	done
}
tier_packet() { ensure_bpffs && run_bins packet packet; }

tier_fuzz() {
	local end f corpus
	end=$(tier_deadline fuzz)
	for f in "$B"/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		corpus="tests/fuzz/corpus/${f##*/fuzz_}"
		mkdir -p "$LOG/corpus-${f##*/}"
		# libFuzzer prints no cmocka summary: a clean exit is one pass.
		run_one fuzz "${f##*/}" "$(left "$end")" sh -c \
			"'$f' -max_total_time=$FUZZ_SECONDS -print_final_stats=1 '$LOG/corpus-${f##*/}' '$corpus' && echo '1 passed, 0 failed'"
	done
}

tier_netns() {
	local end t
	ensure_bpffs || return
	end=$(tier_deadline netns)
	for t in tests/netns/test_*.sh; do
		[ -x "$t" ] || continue
		run_one netns "${t##*/}" "$(left "$end")" "$t"
	done
}

start=$(date +%s)
for tier in "${TIERS[@]}"; do
	echo "== $tier (budget ${BUDGET[$tier]:-?}s)"
	t0=$(date +%s)
	"tier_$tier"
	echo "== $tier took $(($(date +%s) - t0))s"
done
echo "== all tiers took $(($(date +%s) - start))s"
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

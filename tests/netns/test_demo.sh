#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The README's first command keeps working: tests/netns/demo.sh (what `make demo` runs) succeeds,
# leaves nothing behind, and its --keep / --clean pair works. Root only (exit 77 otherwise).
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEMO=$VSN_ROOT/tests/netns/demo.sh
OUT=

demo_leftovers() {
	ip netns list | grep -q '^vsndemo-' && echo "namespaces: $(ip netns list | grep '^vsndemo-')"
	[ -e /sys/fs/bpf/vsn-demo ] && echo "pins: /sys/fs/bpf/vsn-demo"
	[ -e /run/vsn-demo ] && echo "state: /run/vsn-demo"
	return 0
}

demo_runs_and_cleans_up() {
	OUT=$("$DEMO" 2>&1) || vsn_fail "demo.sh failed: $OUT" || return 1
	grep -q "hello from" <<<"$OUT" || vsn_fail "no answer through the VIP in: $OUT" || return 1
	[ -z "$(demo_leftovers)" ] || vsn_fail "left behind: $(demo_leftovers)"
}

demo_keep_then_clean() {
	OUT=$("$DEMO" --keep 2>&1) || vsn_fail "demo.sh --keep failed: $OUT" || return 1
	ip netns list | grep -q '^vsndemo-' || vsn_fail "--keep left nothing running" || return 1
	OUT=$("$DEMO" --clean 2>&1) || vsn_fail "demo.sh --clean failed: $OUT" || return 1
	[ -z "$(demo_leftovers)" ] || vsn_fail "--clean left: $(demo_leftovers)"
}

main() {
	vsn_require
	vsn_bpffs_ensure || exit 1
	vsn_state_init || exit 1
	vsn_trap_cleanup
	vsn_tap_init
	vsn_tap demo_runs_and_cleans_up
	vsn_tap demo_keep_then_clean
	vsn_tap_done
}

main "$@"

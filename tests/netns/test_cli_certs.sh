#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The certificate commands of vsn end to end, and the guide that shows them: builds a CA, a
# controller and two node certificates in a temporary directory with build/vsn, checks them with
# the openssl command (chain, names, usages, key modes), the refusals (a second CA over the first,
# bad names, another CA's ca.crt) and the exit codes; then that every vsn command
# docs/certificates.md shows is one this test ran, and that its usage block is what --help prints.
# Needs no namespace and no root (it sits in this tier as the end-to-end test of a binary).
# Prints TAP lines and closes with "N passed, M failed".
#
#   VSN=build/san/vsn tests/netns/test_cli_certs.sh   runs it with the sanitizer build
set -u

# shellcheck source=tests/netns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOC=$VSN_ROOT/docs/certificates.md
VSN=${VSN:-$VSN_ROOT/build/vsn}
case "$VSN" in /*) ;; *) VSN=$PWD/$VSN ;; esac

# vsn ARGS in the work directory; each call's arguments go to vsn.log for docs_commands_ran.
vsn_cli() {
	echo "$*" >>"$VSN_STATE_DIR/vsn.log"
	(cd "$VSN_STATE_DIR/work" && "$VSN" "$@")
}

OUT='' RC=''
run() {
	OUT=$(vsn_cli "$@" 2>&1)
	RC=$?
}

expect_rc() { # RC ARGS...: run vsn, expecting exit status RC
	local want=$1
	shift
	run "$@"
	[ "$RC" -eq "$want" ] || vsn_fail "vsn $* exited $RC, expected $want: $OUT"
}

expect_grep() {
	grep -qF -- "$1" <<<"$OUT" || vsn_fail "expected '$1' in: $OUT"
}

in_work() { (cd "$VSN_STATE_DIR/work" && "$@"); }

# The guide's commands, as it shows them.
guide_commands_succeed() {
	expect_rc 0 ca create --dir ca --name example-ca || return 1
	expect_grep "created CA 'example-ca' in ca" || return 1
	expect_rc 0 cert issue --ca ca --out controller --controller controller.example.net \
		--dns controller --ip 192.0.2.10 || return 1
	expect_grep "issued controller certificate 'controller.example.net'" || return 1
	expect_rc 0 cert issue --ca ca --out node1 --node node1 || return 1
	expect_rc 0 cert issue --ca ca --out node2 --node node2 --days 90 || return 1
	expect_rc 0 cert show node1/node1.crt || return 1
	expect_grep "role      node" || return 1
	expect_grep "names     DNS:node1" || return 1
	expect_grep "issuer    CN=example-ca" || return 1
}

openssl_verifies_the_chain() {
	OUT=$(in_work openssl verify -CAfile ca/ca.crt controller/controller.example.net.crt \
		node1/node1.crt node2/node2.crt 2>&1) || vsn_fail "openssl verify: $OUT" || return 1
	OUT=$(in_work openssl verify -CAfile node1/ca.crt node2/node2.crt 2>&1) ||
		vsn_fail "the copied ca.crt does not verify: $OUT"
}

openssl_sees_names_and_usages() {
	OUT=$(in_work openssl x509 -in controller/controller.example.net.crt -noout -text) ||
		return 1
	expect_grep "Subject: OU = controller, CN = controller.example.net" || return 1
	expect_grep "DNS:controller.example.net, DNS:controller, IP Address:192.0.2.10" || return 1
	expect_grep "TLS Web Server Authentication, TLS Web Client Authentication" || return 1
	expect_grep "CA:FALSE" || return 1
	expect_grep "ASN1 OID: prime256v1" || return 1
	OUT=$(in_work openssl x509 -in ca/ca.crt -noout -text) || return 1
	expect_grep "CA:TRUE" || return 1
	expect_grep "Certificate Sign, CRL Sign" || return 1
	OUT=$(in_work openssl x509 -in node2/node2.crt -noout -enddate -startdate) || return 1
	# From five minutes before it was made to 90 days after.
	local end start
	end=$(date -d "$(sed -n 's/^notAfter=//p' <<<"$OUT")" +%s) || return 1
	start=$(date -d "$(sed -n 's/^notBefore=//p' <<<"$OUT")" +%s) || return 1
	[ $((end - start)) -eq $((90 * 86400 + 300)) ] || vsn_fail "node2 not valid 90 days: $OUT"
}

keys_are_0600() {
	local f m
	for f in ca/ca.key controller/controller.example.net.key node1/node1.key; do
		m=$(stat -c %a "$VSN_STATE_DIR/work/$f") || return 1
		[ "$m" = 600 ] || vsn_fail "$f has mode $m" || return 1
	done
}

second_ca_refused() {
	local before
	before=$(sha256sum "$VSN_STATE_DIR/work/ca/ca.key" "$VSN_STATE_DIR/work/ca/ca.crt")
	expect_rc 1 ca create --dir ca || return 1
	expect_grep "vsn: ca create: ca/ca.key exists: a CA is never overwritten" || return 1
	[ "$before" = "$(sha256sum "$VSN_STATE_DIR/work/ca/ca.key" "$VSN_STATE_DIR/work/ca/ca.crt")" ] ||
		vsn_fail "the CA changed"
}

bad_arguments_refused() {
	expect_rc 1 cert issue --ca ca --out bad --node bad_name || return 1
	expect_grep "is no DNS name" || return 1
	expect_rc 1 cert issue --ca ca --out bad --node ok --ip 300.1.1.1 || return 1
	expect_rc 1 cert issue --ca ca --out bad --node ok --dns -x || return 1
	expect_rc 1 cert issue --ca ca --out bad ok || return 1
	expect_grep "--controller or --node is required" || return 1
	expect_rc 1 cert issue --ca ca --out bad --node ok --days 0 || return 1
	expect_rc 1 cert issue --ca nowhere --out bad --node ok || return 1
	expect_grep "No such file or directory" || return 1
	[ ! -e "$VSN_STATE_DIR/work/bad/ok.crt" ] || vsn_fail "bad/ok.crt was written"
	expect_rc 1 cert show ca/ca.key || return 1
	expect_rc 2 frobnicate || return 1
	expect_rc 2 cert || return 1
	expect_rc 2 --pin-dir x cert show ca/ca.crt || return 1
}

other_cas_directory_refused() {
	expect_rc 0 ca create --dir other || return 1
	expect_rc 1 cert issue --ca other --out node1 --node node3 || return 1
	expect_grep "another CA's certificate" || return 1
}

renewal_replaces_and_still_verifies() {
	local s0 s1
	s0=$(in_work openssl x509 -in node2/node2.crt -noout -serial) || return 1
	expect_rc 0 cert issue --ca ca --out node2 --node node2 --days 90 || return 1
	s1=$(in_work openssl x509 -in node2/node2.crt -noout -serial) || return 1
	[ "$s0" != "$s1" ] || vsn_fail "the serial did not change" || return 1
	OUT=$(in_work openssl verify -CAfile node2/ca.crt node2/node2.crt 2>&1) ||
		vsn_fail "renewed certificate: $OUT" || return 1
	# The key and the certificate belong together.
	[ "$(in_work openssl pkey -in node2/node2.key -pubout)" = \
		"$(in_work openssl x509 -in node2/node2.crt -noout -pubkey)" ] ||
		vsn_fail "node2.key is not node2.crt's key"
}

docs_usage_current() {
	vsn_docs_usage_current vsn "$DOC" vsn_cli --help
}

docs_commands_ran() {
	vsn_docs_commands_ran vsn "$DOC" "$VSN_STATE_DIR/vsn.log" 6
}

main() {
	vsn_built "$VSN"
	command -v openssl >/dev/null || vsn_skip "no openssl command (scripts/deps.sh installs it)"
	VSN_STATE_DIR=$(mktemp -d /tmp/vsn-certs.XXXXXX) || exit 1
	trap 'rm -rf "$VSN_STATE_DIR"' EXIT
	mkdir "$VSN_STATE_DIR/work"
	: >"$VSN_STATE_DIR/vsn.log"
	vsn_tap_init

	vsn_tap guide_commands_succeed
	vsn_tap openssl_verifies_the_chain
	vsn_tap openssl_sees_names_and_usages
	vsn_tap keys_are_0600
	vsn_tap second_ca_refused
	vsn_tap bad_arguments_refused
	vsn_tap other_cas_directory_refused
	vsn_tap renewal_replaces_and_still_verifies
	vsn_tap docs_usage_current
	vsn_tap docs_commands_ran
	vsn_tap_done
}

main "$@"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The docs cannot rot (unit tier: needs the build, not root). Every command README.md and
# docs/*.md show passes tests/docs/check-doc-commands.sh: its program exists, its subcommand and
# options are the built binaries' (by their --help), its make targets and files exist; so do the
# functions and the links they name. Every node.yaml they show passes vsn-node --check. Then the
# check itself is checked: pages with one mistake each (a misspelt subcommand, a misspelt option,
# an option of another subcommand, an unknown program, a make target, file, function or heading
# that is not there, a prompt hidden in a text block, ...) must each fail it, with the reason.
# (docs/getting-started.md is also run for real: tests/netns/test_getting_started.sh.)
# Prints TAP lines and closes with "N passed, M failed".
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHECK=$ROOT/tests/docs/check-doc-commands.sh
T=$(mktemp -d /tmp/vsn-docs.XXXXXX)
trap 'rm -rf "$T"' EXIT

n=0 pass=0 fail=0
tap() { # NAME STATUS [DETAIL]
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok $n - $1"
	else
		fail=$((fail + 1))
		echo "not ok $n - $1"
		[ -n "${3:-}" ] && sed 's/^/#   /' <<<"$3"
	fi
}

# The pages as they are.
out=$("$CHECK" 2>&1)
rc=$?
tap "every command of README.md and docs/*.md checks out" $rc "$out"
count=$(sed -nE 's/^checked ([0-9]+) commands.*/\1/p' <<<"$out")
fns=$(sed -nE 's/^checked [0-9]+ commands, ([0-9]+) functions.*/\1/p' <<<"$out")
links=$(sed -nE 's/^checked .* ([0-9]+) links.*/\1/p' <<<"$out")
[ "${count:-0}" -ge 250 ]
tap "the pages show commands (checked ${count:-0}, at least 250 expected)" $? "$out"
[ "${fns:-0}" -ge 200 ]
tap "the pages name functions (checked ${fns:-0}, at least 200 expected)" $? "$out"
[ "${links:-0}" -ge 100 ]
tap "the pages link to each other (checked ${links:-0}, at least 100 expected)" $? "$out"

# Every node.yaml the pages show (a ```yaml node.yaml block) is one the agent takes.
nc=0
for f in "$ROOT"/README.md "$ROOT"/docs/*.md; do
	awk -v dir="$T" -v base="${f##*/}" '
		/^```yaml node\.yaml[ ]*$/ { on = 1; n++; out = dir "/" base "@" NR ".yaml"; next }
		on && /^```/ { on = 0; close(out); next }
		on { print > out }' "$f"
done
for y in "$T"/*.yaml; do
	[ -e "$y" ] || continue
	nc=$((nc + 1))
	out=$("$ROOT/build/vsn-node" --config "$y" --check 2>&1)
	name=${y##*/}
	name=${name%.yaml}
	tap "vsn-node --check takes the node.yaml of ${name%@*}, line ${name#*@}" $? "$out"
	rm -f "$y"
done
[ "$nc" -ge 4 ]
tap "the pages show node.yaml files ($nc, at least 4 expected)" $?

# bad NAME EXPECTED_MESSAGE PAGE_TEXT: a page holding PAGE_TEXT fails the check with the message.
bad() {
	local name=$1 want=$2 out rc

	printf '%s\n' "$3" >"$T/page.md"
	out=$("$CHECK" "$T/page.md" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && grep -qF -- "$want" <<<"$out"; then
		tap "catches $name" 0
	else
		tap "catches $name" 1 "exit $rc, expected 1 and '$want' in:
$out"
	fi
}

bad "a misspelt vsn command" "vsn has no command 'aply'" \
	'```console
$ vsn aply -f state.yaml
```'
bad "a misspelt word of a two-word command" "vsn has no command 'cert isue'" \
	'```console
$ vsn cert isue --ca ca --out n1 --node n1
```'
bad "a misspelt vsnd option" "vsnd has no option --listn" \
	'```console
$ vsnd --listn 10.0.0.1:7700 --ca ca.crt --cert c.crt --key c.key --db x.db --api 127.0.0.1:7443 --tokens t
```'
bad "a misspelt vsn-node option in a sh block" "vsn-node has no option --chek" \
	'```sh
vsn-node --config /etc/vsn/node.yaml --chek
```'
bad "an option of another command" "vsn ca create has no option --out" \
	'```console
$ vsn ca create --dir ca --out x
```'
bad "an option after a continuation line" "vsn-slb setup has no option --vips" \
	'```console
$ vsn-slb setup --dev eth0 --node 10.0.0.2 \
    --vips 192.0.2.10
```'
bad "a global option after the command" "vsn-dpctl show has no option --pin-dir" \
	'```console
$ vsn-dpctl show --pin-dir /sys/fs/bpf/x
```'
bad "a misspelt option in a code span" "vsn-dpctl load has no option --max-flow" \
	'Size it with `vsn-dpctl load --max-flow N`.'
bad "a misspelt command in a synopsis" "vsn-slb has no command 'stup'" \
	'```
vsn-slb stup --dev IFACE
```'
bad "a misspelt program" "unknown program 'vsnn'" \
	'```console
$ vsnn status
```'
bad "a vsn command inside \$(...)" "vsn has no command 'stat'" \
	'```sh
echo "$(vsn stat)"
```'
bad "a make target that does not exist" "the Makefile has no target 'instal'" \
	'```sh
make instal
```'
bad "a benchmark that does not exist" "no benchmark 'dataplan'" \
	'```sh
make bench BENCH=dataplan
```'
bad "a test tier that does not exist" "scripts/run-tests.sh has no tier 'unti'" \
	'Run `scripts/run-tests.sh unti`.'
bad "a file that does not exist" "examples/nowhere.yaml does not exist" \
	'```console
$ vsn validate examples/nowhere.yaml
```'
bad "a prompt hidden in a text block" "a prompt in a \`\`\`text block" \
	'```text
$ vsn status
```'
bad "a transcript in a sh block" "a transcript goes in a \`\`\`console block" \
	'```sh
$ vsn status
```'
bad "a function that does not exist" "vsn_dp_set_aply() is defined nowhere in the source" \
	'The swap is `vsn_dp_set_aply()`.'
# The pages below are in $T: the pages they link to are there too.
ln -s "$ROOT"/docs/*.md "$T/"
bad "a link to a heading that is not there" "the link to config-reference.md#helth finds no heading there" \
	'See [health](config-reference.md#helth).'
bad "a link to a file that is not there" "the link to operation.md finds no file" \
	'See [operations](operation.md).'
bad "a here-document that does not end" "here-document <<EOF does not end" \
	'```console
$ cat > x <<EOF
a: 1
```'

# And a page that is right passes: the check does not fail everything.
printf '%s\n' '```console' '$ vsn apply -f state.yaml -m "x"' 'revision 1' \
	'ctl$ vsn-dpctl --pin-dir /sys/fs/bpf/x counters --json' '```' \
	'See `vsn events [--follow] [--since ID] [--limit N]` and `make bench BENCH=agent`.' >"$T/good.md"
out=$("$CHECK" "$T/good.md" 2>&1)
tap "passes a page without mistakes" $? "$out"

echo "1..$n"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

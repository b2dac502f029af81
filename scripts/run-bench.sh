#!/usr/bin/env bash
# Run the benchmarks: `make bench [BENCH=dataplane|all]` calls this after
# building. JSON lines on stdout only; progress on stderr. See
# docs/benchmarks.md. Extra arguments go to build/vsn-bench (e.g. --quick).
set -euo pipefail

usage() {
	echo "usage: $0 [dataplane|agent|controller|probe|conditions|all] [options of the benchmark's program...]" >&2
	echo "  dataplane: the forwarder per packet, policy set swaps and map memory (vsn-bench)" >&2
	echo "  agent:     vsn-node's apply time and memory over TLS (vsn-bench-agent)" >&2
	echo "  controller: vsnd's apply of 10,000 services, its push to 100 agents (vsn-bench-controller)" >&2
	echo "  probe:     the CPU of probing 1,000 SLBs every second (vsn-bench-probe)" >&2
	echo "  conditions: failover time after an SLB's crash, 20 repetitions (bench-conditions/failover.sh)," >&2
	echo "             and the CPU of probing 1,000 SLBs every second" >&2
	echo "  all:       every benchmark" >&2
}

bench=${1:-all}
[ $# -gt 0 ] && shift
case "$bench" in
dataplane | agent | controller | probe | conditions | all) ;;
-h | --help)
	usage
	exit 0
	;;
*)
	echo "run-bench: unknown benchmark '$bench'" >&2
	usage
	exit 2
	;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${VSN_BENCH:-$root/build/vsn-bench}
if [ ! -x "$bin" ]; then
	echo "run-bench: $bin is missing; run 'make all' first" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "run-bench: needs root (BPF, a network namespace, bpffs)" >&2
	exit 1
fi

# The forwarder is pinned under /sys/fs/bpf/vsn-bench-PID while it runs.
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null || true)" != bpf_fs ]; then
	echo "run-bench: mounting a bpffs at /sys/fs/bpf" >&2
	mount -t bpf bpf /sys/fs/bpf
fi

{
	echo "run-bench: $bench on $(nproc) CPUs," \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
		"kernel $(uname -r)"
} >&2

case "$bench" in
dataplane | all)
	"$bin" --bench dataplane,swap,mem "$@"
	;;
esac
case "$bench" in
agent | all)
	"${VSN_BENCH_AGENT:-$root/build/vsn-bench-agent}" "$@"
	;;
esac
case "$bench" in
controller | all)
	"${VSN_BENCH_CONTROLLER:-$root/build/vsn-bench-controller}" "$@"
	;;
esac
case "$bench" in
conditions | all)
	"$root/bench-conditions/failover.sh"
	;;
esac
case "$bench" in
probe | conditions | all)
	"${VSN_BENCH_PROBE:-$root/build/vsn-bench-probe}"
	;;
esac

#!/usr/bin/env bash
# Install the Debian packages vsn needs to build, test and demo, only those
# that are missing (so a prepared machine runs no apt-get at all).
set -euo pipefail

PKGS=(
	make clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libmnl-dev libyaml-dev
	libcmocka-dev libclang-rt-14-dev linux-libc-dev libssl-dev openssl
	protobuf-c-compiler libprotobuf-c-dev libevent-dev libsqlite3-dev sqlite3
	libjansson-dev libcurl4-openssl-dev
	iproute2 iputils-ping ethtool nftables nginx-light haproxy jq curl procps util-linux socat
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

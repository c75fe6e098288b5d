#!/usr/bin/env bash
# Installs everything fornax needs to build, run and test on Debian 12.
# Idempotent: packages already present are left alone.
# --build-only installs what building needs and nothing for the tests.
set -euo pipefail

packages=(
	build-essential cmake pkg-config clang llvm bpftool
	libbpf-dev libelf-dev libdw-dev libiberty-dev zlib1g-dev uthash-dev
	libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev
	# operating the agent: the HTTP endpoint, Kubernetes' JSON, relabelling
	# regexes, the YAML config file, sd_notify
	libmicrohttpd-dev libjson-c-dev libpcre2-dev libyaml-dev libsystemd-dev
)
[ "${1:-}" = --build-only ] || packages+=(
	# tests: independent readers and peers
	golang-go protobuf-compiler golang-github-google-pprof-dev
	python3 python3-grpcio python3-protobuf linux-perf binutils elfutils
	# tests: flame graphs opened in a real browser
	chromium
	# symbolization of stripped and JIT code: libdebuginfod is loaded only
	# with --debuginfod; libc6-dbg gives the tests' short-lived processes a
	# symbolized dynamic loader; node writes perf maps; xz makes MiniDebugInfo
	libdebuginfod-dev libc6-dbg nodejs xz-utils
	# tests: certificates for the TLS store and API server tests
	openssl
	# tests: a real Prometheus and promtool; systemd-analyze for the unit, strace
	# for the system calls it allows; docker-compose to validate deploy/compose.yaml
	prometheus systemd strace docker-compose
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

if ((${#missing[@]})); then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "setup: installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

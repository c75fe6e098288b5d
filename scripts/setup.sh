#!/usr/bin/env bash
# Installs everything fornax needs to build, run and test on Debian 12.
# Idempotent: packages already present are left alone.
# --build-only installs what building needs and nothing for the tests.
set -euo pipefail

packages=(
	build-essential cmake pkg-config clang llvm bpftool
	libbpf-dev libelf-dev libdw-dev libiberty-dev zlib1g-dev uthash-dev
	libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev
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
	# tests: certificates for the TLS store tests
	openssl
	# tests: Debian's CPython 3.11 is profiled and read (python3.11), and a
	# program embedding libpython3.11.so is built (libpython3.11-dev)
	python3.11 libpython3.11-dev
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

#!/usr/bin/env bash
# Installs everything fornax needs to build, run and test on Debian 12.
# Idempotent: packages already present are left alone.
# --build-only installs what building needs and nothing for the tests.
set -euo pipefail

packages=(
	build-essential cmake pkg-config clang llvm bpftool
	libbpf-dev libelf-dev libdw-dev libiberty-dev zlib1g-dev
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
	# symbolized dynamic loader; node writes perf maps; xz makes MiniDebugInfo;
	# dwz shares DWARF between files as Debian's debug packages do
	libdebuginfod-dev libc6-dbg nodejs xz-utils dwz
	# tests: certificates for the TLS store and API server tests
	openssl
	# benchmarks: the other eBPF profilers bench/real_programs.py compares against
	bpftrace bpfcc-tools
	# tests: a real Prometheus and promtool; systemd-analyze for the unit, strace
	# for the system calls it allows; docker-compose to validate deploy/compose.yaml
	prometheus systemd strace docker-compose
	# tests: Debian 12's own kernel booted under qemu (tests/vm/run_in_vm.py);
	# busybox is the guest's init
	qemu-system-x86 busybox-static
	# tests: Debian's CPython 3.11 is profiled and read (python3.11), and a
	# program embedding libpython3.11.so is built (libpython3.11-dev)
	python3.11 libpython3.11-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = --build-only ] && exit 0

# tests: the kernels the VM tests boot, taken from Debian's own packages: the
# image each metapackage depends on today, extracted (not installed) into a
# cache that tests/vm/run_in_vm.py reads. Only boot/ is kept: the guest loads
# no modules.
vm_kernels=(linux-image-cloud-amd64)
vm_cache=${FORNAX_VM_CACHE:-${XDG_CACHE_HOME:-~/.cache}/fornax/vm}
depends_on() { apt-cache depends "$1" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'; }
for meta in "${vm_kernels[@]}"; do
	image=$(depends_on "$meta")
	if [ -z "$image" ]; then
		$sudo apt-get update -qq
		image=$(depends_on "$meta")
	fi
	[ -n "$image" ] || { echo "setup: $meta names no kernel image" >&2; exit 1; }
	version=$(apt-cache show --no-all-versions "$image" | awk '$1 == "Version:" { print $2; exit }')
	dir=$vm_cache/${image}_$version
	[ -e "$dir/boot" ] && continue
	echo "setup: fetching $image $version for the VM tests into $vm_cache" >&2
	tmp=$(mktemp -d)
	# apt downloads as its sandbox user, who must be able to write there
	[ "$(id -u)" -ne 0 ] || chown _apt "$tmp" 2>/dev/null || true
	(cd "$tmp" && apt-get download -qq "$image=$version" && dpkg-deb -x ./*.deb root)
	# older builds of the same flavour (6.1.0-NN-cloud-amd64) are no longer what Debian ships
	flavour=${image#linux-image-*-*-}
	mkdir -p "$vm_cache"
	find "$vm_cache" -maxdepth 1 -regextype posix-extended \
		-regex ".*/linux-image-[0-9.]+-[0-9]+-${flavour}_.*" ! -name "${image}_$version" \
		-exec rm -rf {} +
	mkdir -p "$dir.tmp"
	mv "$tmp/root/boot" "$dir.tmp/"
	rm -rf "$tmp"
	mv "$dir.tmp" "$dir"
done

#!/usr/bin/env bash
# Configures and builds fornax into BUILD_DIR (default build/).
# FORNAX_SANITIZE=ON builds with ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} \
	-DFORNAX_SANITIZE="${FORNAX_SANITIZE:-OFF}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"

#!/usr/bin/env bash
# Fresh Debian 12 to a profile of this machine: installs what building and
# running fornax needs (nothing for the tests), builds it, and profiles every
# CPU for DURATION (default 10s) into fornax.pb.gz while a small workload of
# known shape runs beside whatever else the machine does, so an idle machine
# still shows something real. fornax prints the hottest functions itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --build-only
bash scripts/build.sh
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
duration=${DURATION:-10s}

# The test workload (tests/helpers/workload.c): one process splitting its time
# 50/30/20 between leaf_a, leaf_b and leaf_c, stopped when the capture ends.
workload=build/tests/fornax_workload
if [ -x "$workload" ] && [ "${WORKLOAD:-1}" != 0 ]; then
	"$workload" split 3600 1 &
	pid=$!
	trap 'kill $pid 2>/dev/null || true' EXIT
	echo "quickstart: profiling this machine, with a small workload (pid $pid, ~1 CPU) beside it"
else
	echo "quickstart: profiling this machine as it is (an idle machine gives few samples)"
fi
$sudo ./build/agent/fornax --duration "$duration" -o fornax.pb.gz --top 15
echo
echo "Profile written to $(pwd)/fornax.pb.gz"
echo "Open it with: go tool pprof -http=: fornax.pb.gz, or draw it: build/agent/fornax convert fornax.pb.gz -o flame.svg"

#!/usr/bin/env bash
# Fresh Debian 12 to a profile of this machine: installs what fornax needs,
# builds it, profiles every CPU for DURATION (default 10s) into fornax.pb.gz
# and prints the hottest functions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo ./build/agent/fornax --duration "${DURATION:-10s}" -o fornax.pb.gz
echo
go tool pprof -top -nodecount=25 fornax.pb.gz 2>/dev/null | head -n 32
echo
echo "Profile written to $(pwd)/fornax.pb.gz (open it with: go tool pprof -http=: fornax.pb.gz)"

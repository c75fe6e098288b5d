#!/usr/bin/env bash
# Installs what fornax needs, then builds and runs every test twice: a normal
# build and an ASan+UBSan build, then runs the fuzz targets for a bounded
# time. Real-BPF tests need root; under CI=true a skipped test is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

status=0
for variant in release sanitize; do
	build_dir=build-test-$variant
	sanitize=OFF
	[ "$variant" = sanitize ] && sanitize=ON
	echo "== $variant build ($build_dir)"
	BUILD_DIR=$build_dir FORNAX_SANITIZE=$sanitize bash scripts/build.sh >/dev/null
	# A skip (exit 77) shows as "Not Run"/"Skipped" in ctest's summary; under CI it is a failure.
	log=$build_dir/ctest.log
	if ! (cd "$build_dir" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure --no-tests=error -j1) 2>&1 | tee "$log"; then
		status=1
	fi
	if [ "${CI:-}" = true ] && grep -qE '\*\*\*Skipped|Not Run' "$log"; then
		echo "CI=true: skipped tests count as failures" >&2
		status=1
	fi
done
# The parsers of untrusted input under libFuzzer (clang, ASan+UBSan): the
# committed corpus, every input that once crashed included, then 15 s of
# fuzzing per target (8 targets: 2 minutes, under 4 with the build).
echo "== fuzz (build-fuzz)"
if ! FUZZ_SECONDS=${FUZZ_SECONDS:-15} bash scripts/fuzz.sh; then
	status=1
fi
exit $status

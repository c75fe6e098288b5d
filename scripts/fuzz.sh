#!/usr/bin/env bash
# Builds fornax's libFuzzer targets with clang under ASan+UBSan and runs each
# for a bounded time, seeded from the committed corpus tests/fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh [TARGET...]          every target, or the ones named
#   FUZZ_SECONDS=60                      time per target (default 60)
#   FUZZ_JOBS=1                          libFuzzer workers per target
#   FUZZ_PARALLEL=<CPUs / FUZZ_JOBS>     targets run at the same time (each on its own CPUs,
#                                        so each still gets FUZZ_SECONDS of fuzzing)
#   FUZZ_KEEP_GOING=1                    go on after a crash (libFuzzer's fork mode),
#                                        to collect every crash a target finds
#   BUILD_DIR=build-fuzz                 where the clang build goes
#   scripts/fuzz.sh --replay [TARGET...] run only the committed corpus and the
#                                        known crashes (tests/fuzz/crashes/<target>/)
#
# New inputs libFuzzer finds stay in $BUILD_DIR/fuzz/<target>/corpus; a crash
# leaves its input in $BUILD_DIR/fuzz/<target>/ (crash-*, leak-*, timeout-*,
# oom-*) and fails the run. Once a crash is fixed, add its input to
# tests/fuzz/corpus/<target>/ so the corpus grows with every crash found.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."

ALL_TARGETS=(procmaps_fuzz kallsyms_fuzz perfmap_fuzz elf_file_fuzz pprof_decode_fuzz
	outputs_fuzz cfi_table_fuzz spool_fuzz)
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
at_once=${FUZZ_PARALLEL:-$(( $(nproc) / jobs ))}
[ "$at_once" -ge 1 ] || at_once=1
build_dir=${BUILD_DIR:-build-fuzz}
replay=0
if [ "${1:-}" = --replay ]; then
	replay=1
	shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

command -v clang >/dev/null || { echo "fuzz.sh: clang is needed (scripts/setup.sh)" >&2; exit 1; }
cmake -S . -B "$build_dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DFORNAX_FUZZ=ON >/dev/null
cmake --build "$build_dir" -j"${FUZZ_BUILD_JOBS:-2}" --target "${targets[@]}" symbolizer_fixtures \
	unwind_fixtures >/dev/null

# Seeds shared with another target, and seeds only a build makes: the ELF
# fixtures (with and without DWARF, MiniDebugInfo, C++, CFI corner cases).
extra_seeds() {
	case $1 in
	elf_file_fuzz) echo "$build_dir/tests/fixtures/symbolizer" ;;
	cfi_table_fuzz) echo "tests/fuzz/corpus/elf_file_fuzz $build_dir/tests/fixtures/unwind" ;;
	outputs_fuzz) echo "tests/fuzz/corpus/pprof_decode_fuzz" ;;
	esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One target: its lines go to $out/summary, its verdict to the exit status.
fuzz_one() {
	local t=$1 bin seeds out extra common parallel inputs
	bin=$(find "$build_dir/tests" -maxdepth 1 -name "$t" -type f -perm -u+x | head -1)
	[ -n "$bin" ] || { echo "fuzz.sh: no $t in $build_dir/tests" >&2; return 1; }
	seeds=tests/fuzz/corpus/$t
	# libFuzzer exits on a corpus directory that does not exist; git keeps no empty ones.
	[ -d "$seeds" ] || { echo "fuzz.sh: no seed directory $seeds" >&2; return 1; }
	out=$build_dir/fuzz/$t
	mkdir -p "$out/corpus"
	exec >"$out/summary"
	read -r -a extra <<<"$(extra_seeds "$t")"
	# -timeout: an input that takes 10 s is a hang; -rss_limit_mb: one that takes 2 GiB a bomb.
	common=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$out/" -print_final_stats=1)
	if [ $replay = 1 ]; then
		mapfile -t inputs < <(find "$seeds" "${extra[@]}" tests/fuzz/crashes/"$t" -maxdepth 1 \
			-type f 2>/dev/null)
		echo "== $t: replaying ${#inputs[@]} inputs"
		if ! "$bin" "${common[@]}" "${inputs[@]}" >"$out/replay.log" 2>&1; then
			echo "   FAILED: see $out/replay.log"
			return 1
		fi
		return 0
	fi
	echo "== $t: ${seconds}s from $(find "$seeds" -type f | wc -l) seeds${extra[*]:+ + ${extra[*]}}"
	parallel=()
	[ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")
	[ "${FUZZ_KEEP_GOING:-0}" = 1 ] && parallel=(-fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1
		-ignore_ooms=1)
	if "$bin" "${common[@]}" -max_total_time="$seconds" "${parallel[@]}" \
		"$out/corpus" "$seeds" "${extra[@]}" >"$out/fuzz.log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$out/fuzz.log" | tail -2 |
			sed 's/^/   /'
		if find "$out" -maxdepth 1 -name 'crash-*' | grep -q .; then
			echo "   CRASHES (kept going):"
			find "$out" -maxdepth 1 -name 'crash-*' -printf '   input: %p\n'
			return 1
		fi
		return 0
	fi
	echo "   CRASH: $(grep -m1 -E 'ERROR: |runtime error|SUMMARY' "$out/fuzz.log" || true)"
	find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
		-o -name 'oom-*' \) -printf '   input: %p\n'
	return 1
}

# Up to $at_once targets at a time; their summaries are printed in the order named.
status=0
running=0
for t in "${targets[@]}"; do
	if [ "$running" -ge "$at_once" ]; then
		wait -n || status=1
		running=$((running - 1))
	fi
	rm -f "$build_dir/fuzz/$t/summary"
	fuzz_one "$t" &
	running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
	wait -n || status=1
	running=$((running - 1))
done
for t in "${targets[@]}"; do
	cat "$build_dir/fuzz/$t/summary" 2>/dev/null || true
done
exit $status

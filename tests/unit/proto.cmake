# pprof builder and encoder. The encoded profiles are read back by tools that
# share no code with ours: `go tool pprof` (golang-go) and `protoc --decode`
# against Debian's copy of upstream profile.proto
# (golang-github-google-pprof-dev). Both come from scripts/setup.sh; without
# them the test fails rather than skips.
set(FORNAX_PPROF_UPSTREAM_PROTO_DIR "/usr/share/gocode/src/github.com/google/pprof/proto"
	CACHE PATH "Directory holding upstream pprof profile.proto, for protoc --decode")

fornax_unit_test(proto_test
	SOURCES "${FORNAX_TEST_ROOT}/unit/proto_test.c"
	LIBS fornax_proto
	DEFINITIONS "PPROF_UPSTREAM_PROTO_DIR=\"${FORNAX_PPROF_UPSTREAM_PROTO_DIR}\"")

# The decoder: round trips, fixtures from independent writers (regenerate
# with tests/fixtures/pprof/generate.sh), broken and garbage input.
fornax_unit_test(pprof_decode_test
	SOURCES "${FORNAX_TEST_ROOT}/unit/pprof_decode_test.c"
	LIBS fornax_proto
	DEFINITIONS "FIXTURE_DIR=\"${FORNAX_TEST_ROOT}/fixtures/pprof\"")

# libFuzzer target for the decoder (clang only; see tests/unit/symbolizer.cmake):
#   ./pprof_decode_fuzz -max_total_time=60 tests/fixtures/pprof
if(FORNAX_FUZZ)
	target_compile_options(fornax_proto PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
	add_executable(pprof_decode_fuzz ${CMAKE_CURRENT_LIST_DIR}/pprof_decode_fuzz.c)
	target_compile_options(pprof_decode_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
	target_link_options(pprof_decode_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
	target_link_libraries(pprof_decode_fuzz PRIVATE fornax_proto)
endif()

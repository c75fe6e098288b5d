# The decoder: round trips, fixtures from independent writers (regenerate
# with tests/fixtures/pprof/generate.sh), broken and garbage input.
fornax_unit_test(pprof_decode_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/pprof_decode_test.c
	LIBS fornax_proto
	DEFINITIONS "FIXTURE_DIR=\"${FORNAX_TEST_ROOT}/fixtures/pprof\"")

# libFuzzer target for the decoder (clang only):
#   ./pprof_decode_fuzz -max_total_time=60 tests/fixtures/pprof
if(FORNAX_FUZZ)
	fornax_fuzz_target(pprof_decode_fuzz ${CMAKE_CURRENT_LIST_DIR}/pprof_decode_fuzz.c fornax_proto)
endif()

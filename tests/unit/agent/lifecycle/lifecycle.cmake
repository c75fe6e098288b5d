# The perf sideband reader against the running kernel: real processes, real
# records (root or perf_event_paranoid <= -1; skipped otherwise).
fornax_unit_test(sideband_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/sideband_test.c
	LIBS fornax_lifecycle)

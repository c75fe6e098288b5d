# Prometheus metrics (agent/metrics/): the registry, the text exposition,
# the process collector; promtool (Debian's prometheus) reads the output.
fornax_unit_test(metrics_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/metrics_test.c
	LIBS fornax_metrics m)
set_tests_properties(metrics_test PROPERTIES SKIP_RETURN_CODE 77)

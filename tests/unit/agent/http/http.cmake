# The HTTP endpoint (agent/http/) against libcurl over 127.0.0.1; promtool
# (Debian's prometheus) reads what /metrics serves.
fornax_unit_test(http_server_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/http_server_test.c
	LIBS fornax_http fornax_metrics PkgConfig::LIBCURL Threads::Threads
	INCLUDES ${FORNAX_TEST_ROOT}/unit/agent/metrics)
set_tests_properties(http_server_test PROPERTIES SKIP_RETURN_CODE 77)

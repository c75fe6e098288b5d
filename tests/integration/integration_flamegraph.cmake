# (Included after integration.cmake, whose helpers it uses: the glob sorts names.)
# Flame graphs and fornax convert. convert needs neither root nor BPF; the
# browser test needs Debian's chromium (scripts/setup.sh installs it); the
# capture test is a real-BPF one.
add_test(NAME convert
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_convert.py" -v)
set_tests_properties(convert PROPERTIES LABELS cli TIMEOUT 300 SKIP_RETURN_CODE 77
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>;FORNAX_FIXTURES=${FORNAX_TEST_ROOT}/fixtures/pprof")

add_test(NAME flamegraph_browser
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_flamegraph_browser.py" -v)
set_tests_properties(flamegraph_browser PROPERTIES LABELS browser TIMEOUT 180 SKIP_RETURN_CODE 77
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>;FORNAX_FIXTURES=${FORNAX_TEST_ROOT}/fixtures/pprof;FORNAX_BUILD_DIR=${CMAKE_BINARY_DIR}")

fornax_bpf_test(integration_flamegraph test_flamegraph.py)

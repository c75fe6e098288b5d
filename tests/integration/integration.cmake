# Real-BPF integration tests: the real fornax binary profiles helper programs.
# They need root and a BPF-capable kernel; without them they skip (exit 77),
# except under CI=true, where a skip is a failure.

add_executable(fornax_workload "${FORNAX_TEST_ROOT}/helpers/workload.c")
# Frame pointers everywhere and no tail calls, so a frame-pointer walk sees
# every caller: the core unwinds by frame pointers.
target_compile_options(fornax_workload PRIVATE -O2 -g -fno-omit-frame-pointer
	-fno-optimize-sibling-calls)

# Hundreds of short-lived processes, each burning CPU in churn_burn().
add_executable(fornax_churn "${FORNAX_TEST_ROOT}/helpers/churn.c")
target_compile_options(fornax_churn PRIVATE -O2 -g -fno-omit-frame-pointer
	-fno-optimize-sibling-calls)

find_program(FORNAX_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)

function(fornax_bpf_test name script)
	add_test(NAME ${name}
		COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/${script}" -v)
	set_tests_properties(${name} PROPERTIES
		LABELS bpf
		TIMEOUT 600
		SKIP_RETURN_CODE 77
		RUN_SERIAL TRUE
		ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>;FORNAX_WORKLOAD=$<TARGET_FILE:fornax_workload>;FORNAX_CHURN=$<TARGET_FILE:fornax_churn>;FORNAX_BUILD_DIR=${CMAKE_BINARY_DIR}")
endfunction()

fornax_bpf_test(integration_profile test_profile.py)

add_test(NAME cli COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_cli.py" -v)
set_tests_properties(cli PROPERTIES LABELS cli TIMEOUT 120
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>")

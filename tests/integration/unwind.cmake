# The CFI unwinder's integration test profiles helper programs built like
# distribution code. Built by explicit compiler command lines so that
# neither the project's -fno-omit-frame-pointer nor the sanitizers apply.
set(UNWIND_WORKLOAD_SRC "${FORNAX_TEST_ROOT}/helpers/unwind_workload.c")
set(UNWIND_WORKLOAD_NOFP "${CMAKE_CURRENT_BINARY_DIR}/unwind_workload")
set(UNWIND_WORKLOAD_FP "${CMAKE_CURRENT_BINARY_DIR}/unwind_workload_fp")
add_custom_command(OUTPUT "${UNWIND_WORKLOAD_NOFP}"
	COMMAND ${CMAKE_C_COMPILER} -O2 -g -fomit-frame-pointer -pthread
		-o "${UNWIND_WORKLOAD_NOFP}" "${UNWIND_WORKLOAD_SRC}"
	DEPENDS "${UNWIND_WORKLOAD_SRC}"
	VERBATIM)
add_custom_command(OUTPUT "${UNWIND_WORKLOAD_FP}"
	COMMAND ${CMAKE_C_COMPILER} -O2 -g -fno-omit-frame-pointer -pthread
		-o "${UNWIND_WORKLOAD_FP}" "${UNWIND_WORKLOAD_SRC}"
	DEPENDS "${UNWIND_WORKLOAD_SRC}"
	VERBATIM)
# dlopen()ed by the workload from its own directory, after profiling started.
set(UNWIND_DL_SRC "${FORNAX_TEST_ROOT}/helpers/unwind_dl.c")
set(UNWIND_DL "${CMAKE_CURRENT_BINARY_DIR}/libunwind_dl.so")
add_custom_command(OUTPUT "${UNWIND_DL}"
	COMMAND ${CMAKE_C_COMPILER} -O2 -g -fomit-frame-pointer -fPIC -shared
		-o "${UNWIND_DL}" "${UNWIND_DL_SRC}"
	DEPENDS "${UNWIND_DL_SRC}"
	VERBATIM)
add_custom_target(unwind_workloads ALL DEPENDS "${UNWIND_WORKLOAD_NOFP}" "${UNWIND_WORKLOAD_FP}"
	"${UNWIND_DL}")

add_test(NAME integration_unwind
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_unwind.py" -v)
set_tests_properties(integration_unwind PROPERTIES
	LABELS bpf
	TIMEOUT 600
	SKIP_RETURN_CODE 77
	RUN_SERIAL TRUE
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>;UNWIND_WORKLOAD=${UNWIND_WORKLOAD_NOFP};UNWIND_WORKLOAD_FP=${UNWIND_WORKLOAD_FP};FORNAX_HELPERS=${FX_HELPER_OUT};FORNAX_SANITIZE=${FORNAX_SANITIZE}")

# Real-BPF integration tests: the real fornax binary profiles helper programs.
# They need root and a BPF-capable kernel; without them they skip (exit 77),
# except under CI=true, where a skip is a failure.

add_executable(fornax_workload "${FORNAX_TEST_ROOT}/helpers/workload.c")
# Frame pointers everywhere and no tail calls, so a frame-pointer walk sees
# every caller: the core unwinds by frame pointers.
target_compile_options(fornax_workload PRIVATE -O2 -g -fno-omit-frame-pointer
	-fno-optimize-sibling-calls)

# Programs built by explicit compiler commands, so that neither the project's
# flags nor the sanitizers change them (a sanitizer runtime would add its own
# start-up work to every short-lived process):
#   fornax_churn          hundreds of short-lived processes burning CPU in churn_burn()
#   fornax_stripped_link  the workload, stripped, .gnu_debuglink to a debug file next to it
#   fornax_stripped_bid   the workload, stripped, no debuglink; its debug file only in
#                         stripped/debugfiles/ (tests put it under a private .build-id/ root, or
#                         serve it from a debuginfod server)
set(FX_HELPER_FLAGS -O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -Wl,--build-id)
set(FX_HELPER_OUT ${CMAKE_CURRENT_BINARY_DIR})
add_custom_command(OUTPUT ${FX_HELPER_OUT}/fornax_churn
	COMMAND ${CMAKE_C_COMPILER} ${FX_HELPER_FLAGS} -o ${FX_HELPER_OUT}/fornax_churn
		${FORNAX_TEST_ROOT}/helpers/churn.c
	DEPENDS ${FORNAX_TEST_ROOT}/helpers/churn.c
	VERBATIM)
foreach(variant link bid)
	add_custom_command(OUTPUT ${FX_HELPER_OUT}/stripped/fornax_stripped_${variant}
			${FX_HELPER_OUT}/stripped/fornax_stripped_${variant}.debug
		COMMAND ${CMAKE_COMMAND} -E make_directory stripped
		COMMAND ${CMAKE_C_COMPILER} ${FX_HELPER_FLAGS} -DFORNAX_VARIANT="${variant}"
			-o stripped/fornax_stripped_${variant}.full ${FORNAX_TEST_ROOT}/helpers/workload.c
		COMMAND objcopy --only-keep-debug stripped/fornax_stripped_${variant}.full
			stripped/fornax_stripped_${variant}.debug
		COMMAND strip --strip-debug --strip-unneeded -o stripped/fornax_stripped_${variant}
			stripped/fornax_stripped_${variant}.full
		DEPENDS ${FORNAX_TEST_ROOT}/helpers/workload.c
		WORKING_DIRECTORY ${FX_HELPER_OUT}
		VERBATIM)
endforeach()
add_custom_command(OUTPUT ${FX_HELPER_OUT}/stripped/linked.stamp
	COMMAND objcopy --add-gnu-debuglink=fornax_stripped_link.debug fornax_stripped_link
	COMMAND ${CMAKE_COMMAND} -E touch linked.stamp
	DEPENDS ${FX_HELPER_OUT}/stripped/fornax_stripped_link
	WORKING_DIRECTORY ${FX_HELPER_OUT}/stripped
	VERBATIM)
# away from the binary: "<name>.debug" next to it is found even without a debuglink
add_custom_command(OUTPUT ${FX_HELPER_OUT}/stripped/debugfiles/fornax_stripped_bid.debug
	COMMAND ${CMAKE_COMMAND} -E make_directory debugfiles
	COMMAND ${CMAKE_COMMAND} -E rename fornax_stripped_bid.debug
		debugfiles/fornax_stripped_bid.debug
	DEPENDS ${FX_HELPER_OUT}/stripped/fornax_stripped_bid
	WORKING_DIRECTORY ${FX_HELPER_OUT}/stripped
	VERBATIM)
add_custom_target(fornax_test_helpers ALL DEPENDS ${FX_HELPER_OUT}/fornax_churn
	${FX_HELPER_OUT}/stripped/debugfiles/fornax_stripped_bid.debug
	${FX_HELPER_OUT}/stripped/linked.stamp)

# fornax_ksym_loader: loads a BPF program after the agent started and runs it
# (BPF_PROG_TEST_RUN), so samples land in text /proc/kallsyms did not list.
fornax_bpf_skeleton(ksym_spin "${FORNAX_TEST_ROOT}/helpers/ksym_spin.bpf.c")
add_executable(fornax_ksym_loader "${FORNAX_TEST_ROOT}/helpers/ksym_loader.c")
target_link_libraries(fornax_ksym_loader PRIVATE ksym_spin_skel PkgConfig::LIBBPF)

find_program(FORNAX_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)

function(fornax_bpf_test name script)
	add_test(NAME ${name}
		COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/${script}" -v)
	set_tests_properties(${name} PROPERTIES
		LABELS bpf
		TIMEOUT 600
		SKIP_RETURN_CODE 77
		RUN_SERIAL TRUE
		ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>;FORNAX_WORKLOAD=$<TARGET_FILE:fornax_workload>;FORNAX_HELPERS=${FX_HELPER_OUT};FORNAX_KSYM_LOADER=$<TARGET_FILE:fornax_ksym_loader>;FORNAX_BUILD_DIR=${CMAKE_BINARY_DIR}")
endfunction()

fornax_bpf_test(integration_profile test_profile.py)
fornax_bpf_test(integration_symbolize test_symbolize.py)
fornax_bpf_test(integration_kernel_symbols test_kernel_symbols.py)

add_test(NAME cli COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_cli.py" -v)
set_tests_properties(cli PROPERTIES LABELS cli TIMEOUT 120
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>")
add_test(NAME cli_outputs
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_cli_outputs.py" -v)
set_tests_properties(cli_outputs PROPERTIES LABELS cli TIMEOUT 120 SKIP_RETURN_CODE 77
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>")
fornax_bpf_test(integration_cli test_cli_capture.py)
set_tests_properties(integration_cli PROPERTIES LABELS "bpf;cli")
add_test(NAME cli_docs
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_cli_docs.py" -v)
set_tests_properties(cli_docs PROPERTIES LABELS cli TIMEOUT 120
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>;FORNAX_BUILD_DIR=${CMAKE_BINARY_DIR}")

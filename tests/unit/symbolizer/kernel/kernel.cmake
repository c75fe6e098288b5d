# /proc/kallsyms and the kernel build-id, against fixtures and the running kernel;
# kernel text that comes and goes after it was read.
fornax_unit_test(kallsyms_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/kallsyms_test.c
	LIBS fornax_sym_kernel
	INCLUDES ${FORNAX_TEST_ROOT}/unit/symbolizer
	DEFINITIONS ${SYM_TEST_DEFS})
if(FORNAX_FUZZ)
	fornax_fuzz_target(kallsyms_fuzz ${CMAKE_CURRENT_LIST_DIR}/kallsyms_fuzz.c fornax_sym_kernel)
endif()
fornax_unit_test(kdyn_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/kdyn_test.c
	LIBS fornax_sym_kernel)

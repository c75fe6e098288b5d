# The symbolizer as the agent uses it: real processes, fixture programs,
# lifecycle events, JIT perf maps.
fornax_unit_test(symbolizer_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/symbolizer_test.c
	LIBS fornax_symbolizer fornax_sym_kernel ${CMAKE_DL_LIBS}
	INCLUDES ${FORNAX_TEST_ROOT}/unit/symbolizer
	DEFINITIONS ${SYM_TEST_DEFS}
	DEPENDS symbolizer_fixtures)
fornax_unit_test(lifecycle_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/lifecycle_test.c
	LIBS fornax_symbolizer fornax_sym_proc
	INCLUDES ${FORNAX_TEST_ROOT}/unit/symbolizer
	DEFINITIONS ${SYM_TEST_DEFS}
	DEPENDS symbolizer_fixtures)
fornax_unit_test(jit_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/jit_test.c
	LIBS fornax_symbolizer)
fornax_unit_test(kernel_dyn_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/kernel_dyn_test.c
	LIBS fornax_symbolizer
	DEFINITIONS ${SYM_TEST_DEFS})

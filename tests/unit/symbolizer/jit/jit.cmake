# JIT perf map parsing.
fornax_unit_test(perfmap_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/perfmap_test.c
	LIBS fornax_sym_jit)
if(FORNAX_FUZZ)
	fornax_fuzz_target(perfmap_fuzz ${CMAKE_CURRENT_LIST_DIR}/perfmap_fuzz.c fornax_sym_jit)
endif()

# /proc/PID/maps parsing.
fornax_unit_test(procmaps_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/procmaps_test.c
	LIBS fornax_sym_proc)
if(FORNAX_FUZZ)
	fornax_fuzz_target(procmaps_fuzz ${CMAKE_CURRENT_LIST_DIR}/procmaps_fuzz.c fornax_sym_proc)
endif()

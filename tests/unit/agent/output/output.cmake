# Flame graphs: the merged tree, the folded and SVG writers.
fornax_unit_test(flame_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/flame_test.c
	LIBS fornax_output m)
# libFuzzer target: a decoded profile through every output convert writes.
if(FORNAX_FUZZ)
	fornax_fuzz_target(outputs_fuzz ${CMAKE_CURRENT_LIST_DIR}/outputs_fuzz.c
		fornax_output fornax_proto fornax_pprof)
endif()

# Flame graphs: the merged tree, the folded and SVG writers.
fornax_unit_test(flame_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/flame_test.c
	LIBS fornax_output m)

# Flame graphs: the merged tree, the folded and SVG writers.
fornax_unit_test(flame_test
	SOURCES "${FORNAX_TEST_ROOT}/unit/flame_test.c"
	LIBS fornax_agent m)

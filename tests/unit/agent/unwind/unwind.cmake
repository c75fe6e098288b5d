# Which rows of the unwind row space a table owns.
fornax_unit_test(range_alloc_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/range_alloc_test.c
	LIBS fornax_agent)

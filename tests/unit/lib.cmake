# lib/ unit tests.
fornax_unit_test(safe_open_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/lib/safe_open_test.c
	LIBS fornax_safe_open Threads::Threads)

# lib/ (fornax_base): opening files that other users and containers control.
fornax_unit_test(safe_open_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/safe_open_test.c
	LIBS fornax_base Threads::Threads)

# One window: real symbolization of this process's stacks, labels, pseudo
# frames, comments on losses.
fornax_unit_test(window_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/window_test.c
	LIBS fornax_window)

# agent/ unit tests (modules that need no BPF).
fornax_unit_test(cgroups_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/cgroups_test.c
	LIBS fornax_agent)

fornax_unit_test(agent_test SOURCES "${FORNAX_TEST_ROOT}/unit/agent_test.c" LIBS fornax_agent)
# agent/ unit tests (modules that need no BPF).
fornax_unit_test(cgroups_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/cgroups_test.c
	LIBS fornax_agent)

fornax_unit_test(agent_test SOURCES "${FORNAX_TEST_ROOT}/unit/agent_test.c" LIBS fornax_agent)

# Flags, environment twins, and what the capture writes by default.
fornax_unit_test(agent_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/agent_test.c LIBS fornax_config ${CMAKE_DL_LIBS})

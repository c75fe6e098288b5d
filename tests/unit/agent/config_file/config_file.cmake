# The YAML config file (agent/config_file/): pairs, lines, errors, rules.
fornax_unit_test(config_file_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/config_file_test.c
	LIBS fornax_config_file fornax_relabel)

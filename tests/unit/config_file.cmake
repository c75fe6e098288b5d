# The YAML config file (agent/config_file/): pairs, lines, errors, rules.
fornax_unit_test(config_file_test
	SOURCES "${FORNAX_TEST_ROOT}/unit/config_file/config_file_test.c"
	LIBS fornax_config_file fornax_relabel)

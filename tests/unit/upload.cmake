# The upload path (agent/): spool, per-process series, store encoders and
# their classification of answers. Peers and faults are tested end to end in
# tests/integration/test_store_*.py.
fornax_unit_test(spool_test
	SOURCES "${FORNAX_TEST_ROOT}/unit/spool_test.c"
	LIBS fornax_agent)
fornax_unit_test(series_test
	SOURCES "${FORNAX_TEST_ROOT}/unit/series_test.c"
	LIBS fornax_agent)
fornax_unit_test(store_test
	SOURCES "${FORNAX_TEST_ROOT}/unit/store_test.c"
	LIBS fornax_agent)

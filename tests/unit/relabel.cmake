# Relabelling (agent/relabel/): Prometheus' documented behaviour, the RE2
# subset, Go's template expansion.
fornax_unit_test(relabel_test
	SOURCES "${FORNAX_TEST_ROOT}/unit/relabel/relabel_test.c"
	LIBS fornax_relabel Threads::Threads)

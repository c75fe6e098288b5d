# Relabelling (agent/relabel/): Prometheus' documented behaviour, the RE2
# subset, Go's template expansion.
fornax_unit_test(relabel_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/relabel_test.c
	LIBS fornax_relabel Threads::Threads)

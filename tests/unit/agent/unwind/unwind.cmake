# Which rows of the unwind row space a table owns.
fornax_unit_test(range_alloc_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/range_alloc_test.c
	LIBS fornax_unwind)
# CFI rows laid out for the BPF walker: its indexed search agrees with a
# plain one at every address of fixture programs and libc.
fornax_unit_test(unwind_rows_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/unwind_rows_test.c
	LIBS fornax_unwind
	INCLUDES ${FORNAX_TEST_ROOT}/unit/symbolizer
	DEFINITIONS FX_DIR="${UNW_FX_BIN}" FX_SRC_DIR="${UNW_FX_SRC}"
	DEPENDS unwind_fixtures)
# The row and mapping spaces on real BPF maps (needs CAP_BPF; skips without).
fornax_unit_test(page_pool_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/page_pool_test.c
	LIBS fornax_unwind PkgConfig::LIBBPF)
# Unwind tables kept on disk: round trip, inputs checked byte for byte,
# damaged and linked entries refused, directory ownership, the size bound.
fornax_unit_test(table_cache_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/table_cache_test.c
	LIBS fornax_unwind)

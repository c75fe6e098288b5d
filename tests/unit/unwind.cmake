# Unwind-table unit tests: rows built from fixture programs (and the system's
# libc) compared with binutils readelf's interpretation of the same CFI.
set(UNW_FX_BIN ${CMAKE_BINARY_DIR}/tests/fixtures/unwind)
set(UNW_FX_SRC ${CMAKE_CURRENT_LIST_DIR}/../fixtures/unwind)
add_subdirectory(${UNW_FX_SRC} ${UNW_FX_BIN})

fornax_unit_test(cfi_table_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/cfi_table_test.c
	LIBS fornax_symbolizer
	DEFINITIONS FX_DIR="${UNW_FX_BIN}" FX_SRC_DIR="${UNW_FX_SRC}"
	DEPENDS unwind_fixtures)
fornax_unit_test(range_alloc_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/range_alloc_test.c
	LIBS fornax_agent)

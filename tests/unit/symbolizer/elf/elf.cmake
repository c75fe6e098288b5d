# ELF symbols, file:line, inline chains and debug files, against binutils.
fornax_unit_test(elf_file_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/elf_file_test.c
	LIBS fornax_sym_elf
	INCLUDES ${FORNAX_TEST_ROOT}/unit/symbolizer
	DEFINITIONS ${SYM_TEST_DEFS}
	DEPENDS symbolizer_fixtures)
# Debug files copied with their sections inflated, against libelf.
fornax_unit_test(elf_inflate_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/elf_inflate_test.c
	LIBS fornax_sym_elf fornax_base
	INCLUDES ${FORNAX_TEST_ROOT}/unit/symbolizer
	DEFINITIONS ${SYM_TEST_DEFS}
	DEPENDS symbolizer_fixtures)
# Unwind rows built from fixture programs (and the system's libc) compared
# with binutils readelf's interpretation of the same CFI.
fornax_unit_test(cfi_table_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/cfi_table_test.c
	LIBS fornax_sym_elf
	INCLUDES ${FORNAX_TEST_ROOT}/unit/symbolizer
	DEFINITIONS FX_DIR="${UNW_FX_BIN}" FX_SRC_DIR="${UNW_FX_SRC}"
	DEPENDS unwind_fixtures)
if(FORNAX_FUZZ)
	fornax_fuzz_target(elf_file_fuzz ${CMAKE_CURRENT_LIST_DIR}/elf_file_fuzz.c fornax_sym_elf)
	# CFI → rows, every lookup, and the walker's layout of them.
	fornax_fuzz_target(cfi_table_fuzz ${CMAKE_CURRENT_LIST_DIR}/cfi_table_fuzz.c
		fornax_sym_elf fornax_unwind)
endif()

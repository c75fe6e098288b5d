# symbolizer/ unit tests. Fixture programs are built by
# tests/fixtures/symbolizer with fixed flags; the tests read their paths and
# sources through FX_DIR and FX_SRC_DIR.
set(SYM_FX_BIN ${CMAKE_BINARY_DIR}/tests/fixtures/symbolizer)
set(SYM_FX_SRC ${CMAKE_CURRENT_LIST_DIR}/../fixtures/symbolizer)
add_subdirectory(${SYM_FX_SRC} ${SYM_FX_BIN})
set(SYM_TEST_DEFS FX_DIR="${SYM_FX_BIN}" FX_SRC_DIR="${SYM_FX_SRC}")

fornax_unit_test(procmaps_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/procmaps_test.c
	LIBS fornax_symbolizer)
fornax_unit_test(perfmap_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/perfmap_test.c
	LIBS fornax_symbolizer)
fornax_unit_test(jit_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/jit_test.c
	LIBS fornax_symbolizer)
fornax_unit_test(lifecycle_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/lifecycle_test.c
	LIBS fornax_symbolizer
	DEFINITIONS ${SYM_TEST_DEFS}
	DEPENDS symbolizer_fixtures)
fornax_unit_test(kallsyms_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/kallsyms_test.c
	LIBS fornax_symbolizer
	DEFINITIONS ${SYM_TEST_DEFS})
fornax_unit_test(elf_file_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/elf_file_test.c
	LIBS fornax_symbolizer
	DEFINITIONS ${SYM_TEST_DEFS}
	DEPENDS symbolizer_fixtures)
fornax_unit_test(symbolizer_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/symbolizer_test.c
	LIBS fornax_symbolizer ${CMAKE_DL_LIBS}
	DEFINITIONS ${SYM_TEST_DEFS}
	DEPENDS symbolizer_fixtures)

# libFuzzer targets for the parsers of untrusted input (clang only):
#   cmake -DCMAKE_C_COMPILER=clang -DFORNAX_FUZZ=ON ...; ./procmaps_fuzz -max_total_time=60
option(FORNAX_FUZZ "Build the symbolizer's libFuzzer targets (clang)" OFF)
if(FORNAX_FUZZ)
	# coverage feedback from the library too
	target_compile_options(fornax_symbolizer PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
	foreach(fuzz procmaps_fuzz kallsyms_fuzz elf_file_fuzz perfmap_fuzz)
		add_executable(${fuzz} ${CMAKE_CURRENT_LIST_DIR}/${fuzz}.c)
		target_compile_options(${fuzz} PRIVATE -fsanitize=fuzzer,address,undefined)
		target_link_options(${fuzz} PRIVATE -fsanitize=fuzzer,address,undefined)
		target_link_libraries(${fuzz} PRIVATE fornax_symbolizer)
	endforeach()
endif()

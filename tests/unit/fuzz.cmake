# libFuzzer targets for the parsers the other .cmake files do not cover
# (clang, -DFORNAX_FUZZ=ON; scripts/fuzz.sh builds and runs them all):
#   outputs_fuzz    a decoded profile through every output convert writes
#   cfi_table_fuzz  ELF call frame information → unwind rows and their layout
#   spool_fuzz      a spool file → Window → both stores' encoders
if(FORNAX_FUZZ)
	set(fuzz_flags -fsanitize=fuzzer-no-link,address,undefined)
	target_compile_options(fornax_agent PRIVATE ${fuzz_flags})
	target_compile_options(fornax_symbolizer PRIVATE ${fuzz_flags})
	target_compile_options(fornax_proto PRIVATE ${fuzz_flags})
	foreach(fuzz outputs_fuzz cfi_table_fuzz spool_fuzz)
		add_executable(${fuzz} ${CMAKE_CURRENT_LIST_DIR}/${fuzz}.c)
		target_compile_options(${fuzz} PRIVATE -fsanitize=fuzzer,address,undefined)
		target_link_options(${fuzz} PRIVATE -fsanitize=fuzzer,address,undefined)
	endforeach()
	target_link_libraries(outputs_fuzz PRIVATE fornax_agent)
	target_link_libraries(cfi_table_fuzz PRIVATE fornax_symbolizer)
	target_link_libraries(spool_fuzz PRIVATE fornax_agent)
	target_include_directories(spool_fuzz PRIVATE ${PROJECT_SOURCE_DIR}/agent)
endif()

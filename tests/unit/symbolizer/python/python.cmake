# symbolizer/python/ unit tests. They run Debian's /usr/bin/python3 (3.11)
# as the oracle and as the process whose memory is read.
set(PY_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})

# A program embedding libpython3.11.so, for detection in a shared library
# (libpython3.11-dev; scripts/setup.sh installs it with the test packages).
pkg_check_modules(PYTHON_EMBED IMPORTED_TARGET python-3.11-embed)
set(PY_EMBED "")
if(PYTHON_EMBED_FOUND)
	add_executable(py_embed ${PY_TEST_DIR}/py_embed.c)
	target_link_libraries(py_embed PRIVATE PkgConfig::PYTHON_EMBED)
	set(PY_EMBED "$<TARGET_FILE:py_embed>")
endif()

foreach(t py_linetable_test py_code_test py_merge_test)
	fornax_unit_test(${t}
		SOURCES ${PY_TEST_DIR}/${t}.c
		LIBS fornax_sym_python fornax_bpf_abi
		DEFINITIONS PY_TEST_DIR="${PY_TEST_DIR}" PY_EMBED="${PY_EMBED}")
	set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()

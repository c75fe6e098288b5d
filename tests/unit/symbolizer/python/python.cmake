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

# A function whose unlikely blocks GCC moves to a .cold part of their own,
# built by an explicit command line so that the project's flags and the
# sanitizers do not change its code.
set(PY_COLD_FIXTURE ${CMAKE_CURRENT_BINARY_DIR}/py_cold_fixture)
add_custom_command(OUTPUT ${PY_COLD_FIXTURE}
	COMMAND ${CMAKE_C_COMPILER} -O2 -fPIE -pie -o ${PY_COLD_FIXTURE}
		${PY_TEST_DIR}/cold_fixture.c
	DEPENDS ${PY_TEST_DIR}/cold_fixture.c
	VERBATIM)
add_custom_target(py_cold_fixture ALL DEPENDS ${PY_COLD_FIXTURE})

foreach(t py_linetable_test py_code_test py_merge_test py_cold_test)
	fornax_unit_test(${t}
		SOURCES ${PY_TEST_DIR}/${t}.c
		LIBS fornax_sym_python fornax_bpf_abi
		DEFINITIONS PY_TEST_DIR="${PY_TEST_DIR}" PY_EMBED="${PY_EMBED}"
			COLD_FIXTURE="${PY_COLD_FIXTURE}")
	set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
add_dependencies(py_cold_test py_cold_fixture)

# Python frames: Debian's /usr/bin/python3.11 runs a program with a known
# call graph under the real agent.
add_test(NAME integration_python
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_python.py" -v)
set_tests_properties(integration_python PROPERTIES
	LABELS bpf
	TIMEOUT 300
	SKIP_RETURN_CODE 77
	RUN_SERIAL TRUE
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>;PY_CALLGRAPH=${FORNAX_TEST_ROOT}/helpers/python_callgraph.py")

# Threads, asyncio and a generator pipeline.
add_test(NAME integration_python_shapes
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_python_shapes.py" -v)
set_tests_properties(integration_python_shapes PROPERTIES
	LABELS bpf
	TIMEOUT 300
	SKIP_RETURN_CODE 77
	RUN_SERIAL TRUE
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>;PY_SHAPES=${FORNAX_TEST_ROOT}/helpers/python_shapes.py")

# Python processes that exit before the drain: short python3.11 -c runs and
# a program that exits right after its hot phase, named from the walker's
# copies of their code objects.
add_test(NAME integration_python_exits
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_python_exits.py" -v)
set_tests_properties(integration_python_exits PROPERTIES
	LABELS bpf
	TIMEOUT 300
	SKIP_RETURN_CODE 77
	RUN_SERIAL TRUE
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>;PY_CALLGRAPH=${FORNAX_TEST_ROOT}/helpers/python_callgraph.py")

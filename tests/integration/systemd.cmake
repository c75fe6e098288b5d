# deploy/: the systemd unit, rated by systemd-analyze (offline: no systemd runs
# here), parsed by systemd-analyze verify, installed by cmake --install; and
# the agent run with real BPF in the sandbox the unit describes.
add_test(NAME systemd_unit
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_unit.py" -v)
set_tests_properties(systemd_unit PROPERTIES
	LABELS deploy
	TIMEOUT 120
	SKIP_RETURN_CODE 77
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>;FORNAX_BUILD_DIR=${CMAKE_BINARY_DIR}")
fornax_bpf_test(systemd_unit_sandbox test_unit_sandbox.py)

# The DaemonSet and the compose file: parsed (no cluster or container runtime
# here) and held to what the agent needs; compose through `docker-compose config`.
add_test(NAME deploy_manifests
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_deploy.py" -v)
set_tests_properties(deploy_manifests PROPERTIES LABELS deploy TIMEOUT 120 SKIP_RETURN_CODE 77)

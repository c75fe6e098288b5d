# A real Prometheus (Debian's prometheus package), started by the test on
# 127.0.0.1, scrapes the HTTP server module and is queried through its API.
# No BPF: the server runs in a small demo program (tests/helpers/http_demo.c)
# until the agent serves /metrics itself.
add_executable(fornax_http_demo "${FORNAX_TEST_ROOT}/helpers/http_demo.c")
target_link_libraries(fornax_http_demo PRIVATE fornax_http fornax_metrics)

add_test(NAME prometheus_http
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_prometheus_http.py" -v)
set_tests_properties(prometheus_http PROPERTIES
	LABELS prometheus
	TIMEOUT 300
	SKIP_RETURN_CODE 77
	ENVIRONMENT "FORNAX_HTTP_DEMO=$<TARGET_FILE:fornax_http_demo>")

# The real agent, operated from outside: Prometheus scrapes it, go tool pprof
# fetches a capture, systemd's notifications and SIGHUP (real BPF).
fornax_bpf_test(integration_operations test_operations.py)
# Pod names and relabel_configs on real captures, from a stand-in API server.
fornax_bpf_test(integration_kubernetes test_kubernetes.py)

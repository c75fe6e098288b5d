# Kubernetes pod names (agent/k8s/) against a stand-in API server the test
# starts on 127.0.0.1 (tests/unit/k8s/apiserver.py: TLS, a bearer token,
# list, watch, and faults), with a certificate openssl makes for the run.
add_executable(k8s_test "${FORNAX_TEST_ROOT}/unit/k8s/k8s_test.c")
target_include_directories(k8s_test PRIVATE "${FORNAX_TEST_ROOT}/unit")
target_link_libraries(k8s_test PRIVATE fornax_k8s)
add_test(NAME k8s_test COMMAND k8s_test "${FORNAX_TEST_ROOT}/unit/k8s/apiserver.py")
set_tests_properties(k8s_test PROPERTIES LABELS unit TIMEOUT 300)

# Kubernetes pod names (agent/k8s/) against a stand-in API server the test
# starts on 127.0.0.1 (apiserver.py beside the test: TLS, a bearer token,
# list, watch, and faults), with a certificate openssl makes for the run.
fornax_unit_test(k8s_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/k8s_test.c
	LIBS fornax_k8s
	DEFINITIONS APISERVER_PY="${CMAKE_CURRENT_LIST_DIR}/apiserver.py")
set_tests_properties(k8s_test PROPERTIES TIMEOUT 300)


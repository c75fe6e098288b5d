# The upload path: spool, per-process series, store encoders and their
# classification of answers. Peers and faults are tested end to end in
# tests/integration/test_store_*.py.
fornax_unit_test(spool_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/spool_test.c
	LIBS fornax_upload)
fornax_unit_test(series_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/series_test.c
	LIBS fornax_upload)
fornax_unit_test(store_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/store_test.c
	LIBS fornax_upload fornax_agent_lib)
# The queue's order and bound, the retry backoff and outage reports.
fornax_unit_test(upload_queue_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/upload_queue_test.c
	LIBS fornax_upload fornax_base)
# libFuzzer target: a spool file read back, decoded and encoded for both stores.
if(FORNAX_FUZZ)
	fornax_fuzz_target(spool_fuzz ${CMAKE_CURRENT_LIST_DIR}/spool_fuzz.c fornax_upload fornax_proto)
endif()

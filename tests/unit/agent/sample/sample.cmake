# cgroup v2: --cgroup resolution and container ids from cgroup paths.
fornax_unit_test(cgroups_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/cgroups_test.c
	LIBS fornax_sample)

# pprof builder and encoder. The encoded profiles are read back by tools that
# share no code with ours: `go tool pprof` (golang-go) and `protoc --decode`
# against Debian's copy of upstream profile.proto
# (golang-github-google-pprof-dev). Both come from scripts/setup.sh; without
# them the test fails rather than skips.
set(FORNAX_PPROF_UPSTREAM_PROTO_DIR "/usr/share/gocode/src/github.com/google/pprof/proto"
	CACHE PATH "Directory holding upstream pprof profile.proto, for protoc --decode")

fornax_unit_test(proto_test
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/proto_test.c
	LIBS fornax_proto
	DEFINITIONS "PPROF_UPSTREAM_PROTO_DIR=\"${FORNAX_PPROF_UPSTREAM_PROTO_DIR}\"")

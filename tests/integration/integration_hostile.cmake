# (Included after integration.cmake, whose helpers it uses: the glob sorts names.)
# Issue 16: what a local user or a container can do to the root agent. The
# attackers are small programs run as an unprivileged user, some inside a
# container root; they are built by explicit compiler commands because their
# shape is the point: no DWARF, no build-id, static for a bare container root,
# frame pointers so a truncated library's frames are still walked.
set(HOSTILE_SRC ${FORNAX_TEST_ROOT}/helpers/hostile)
set(HOSTILE_OUT ${FX_HELPER_OUT}/hostile)
set(HOSTILE_FLAGS -O2 -fno-omit-frame-pointer -fno-optimize-sibling-calls)
set(hostile_outputs "")
function(hostile_program out src)
	add_custom_command(OUTPUT ${HOSTILE_OUT}/${out}
		COMMAND ${CMAKE_COMMAND} -E make_directory ${HOSTILE_OUT}
		COMMAND ${CMAKE_C_COMPILER} ${HOSTILE_FLAGS} -o ${HOSTILE_OUT}/${out}
			${HOSTILE_SRC}/${src} ${ARGN}
		DEPENDS ${HOSTILE_SRC}/${src}
		VERBATIM)
	set(hostile_outputs ${hostile_outputs} ${HOSTILE_OUT}/${out} PARENT_SCOPE)
endfunction()
# without DWARF: the agent looks for <name>.debug next to it
hostile_program(spin spin.c)
hostile_program(spin_nobid spin.c -Wl,--build-id=none)
hostile_program(spin_static spin.c -static)
hostile_program(sigbus sigbus.c -g -pthread -ldl)
hostile_program(libsigbus.so sigbus_lib.c -g -fPIC -shared)
hostile_program(toggle toggle.c -static)
hostile_program(jit jit.c -static)
hostile_program(box box.c)
add_custom_target(fornax_hostile_helpers ALL DEPENDS ${hostile_outputs})

# Real BPF: the agent against the attackers above. convert needs neither root nor BPF.
fornax_bpf_test(hostile_files test_hostile_files.py)
fornax_bpf_test(hostile_agent test_hostile_agent.py)
add_test(NAME hostile_convert
	COMMAND ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/test_hostile_convert.py" -v)
set_tests_properties(hostile_convert PROPERTIES LABELS cli TIMEOUT 300
	ENVIRONMENT "FORNAX=$<TARGET_FILE:fornax>")

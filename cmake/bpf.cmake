# Compiles a .bpf.c file with clang and turns the object into a libbpf skeleton
# header with bpftool. Everything generated stays in the build directory.

find_program(FORNAX_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(FORNAX_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

set(FORNAX_VMLINUX_BTF "/sys/kernel/btf/vmlinux" CACHE FILEPATH
	"BTF of the kernel whose types the BPF program is compiled against (CO-RE relocates them at load)")

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
	set(FORNAX_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
	set(FORNAX_BPF_ARCH arm64)
else()
	message(FATAL_ERROR "fornax: no BPF target arch mapping for ${CMAKE_SYSTEM_PROCESSOR}")
endif()

set(FORNAX_BPF_GEN_DIR "${CMAKE_BINARY_DIR}/bpf")
file(MAKE_DIRECTORY "${FORNAX_BPF_GEN_DIR}")

# fornax_bpf_skeleton(<name> <source.bpf.c> [DEPENDS headers...])
# Produces ${FORNAX_BPF_GEN_DIR}/<name>.skel.h and an interface target <name>_skel.
function(fornax_bpf_skeleton name src)
	cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
	get_filename_component(src_abs "${src}" ABSOLUTE)
	get_filename_component(src_dir "${src_abs}" DIRECTORY)
	set(obj "${FORNAX_BPF_GEN_DIR}/${name}.bpf.o")
	set(skel "${FORNAX_BPF_GEN_DIR}/${name}.skel.h")

	# One target owns vmlinux.h: a custom command output that several targets
	# list would run once per target, concurrently under make -j.
	if(NOT TARGET fornax_vmlinux_h)
		add_custom_command(
			OUTPUT "${FORNAX_BPF_GEN_DIR}/vmlinux.h"
			COMMAND "${FORNAX_BPFTOOL}" btf dump file "${FORNAX_VMLINUX_BTF}" format c > vmlinux.h.tmp
			COMMAND ${CMAKE_COMMAND} -E rename vmlinux.h.tmp vmlinux.h
			WORKING_DIRECTORY "${FORNAX_BPF_GEN_DIR}"
			COMMENT "Generating vmlinux.h from ${FORNAX_VMLINUX_BTF}"
			VERBATIM)
		add_custom_target(fornax_vmlinux_h DEPENDS "${FORNAX_BPF_GEN_DIR}/vmlinux.h")
	endif()

	add_custom_command(
		OUTPUT "${obj}"
		COMMAND "${FORNAX_CLANG}" -g -O2 -target bpf -D__TARGET_ARCH_${FORNAX_BPF_ARCH}
			-Wall -Werror -I "${FORNAX_BPF_GEN_DIR}" -I "${src_dir}"
			-c "${src_abs}" -o "${obj}"
		DEPENDS "${src_abs}" ${ARG_DEPENDS}
		COMMENT "BPF ${name}.bpf.o"
		VERBATIM)
	add_custom_command(
		OUTPUT "${skel}"
		COMMAND "${FORNAX_BPFTOOL}" gen skeleton "${obj}" name "${name}" > "${skel}.tmp"
		COMMAND ${CMAKE_COMMAND} -E rename "${skel}.tmp" "${skel}"
		DEPENDS "${obj}"
		COMMENT "BPF skeleton ${name}.skel.h"
		VERBATIM)
	add_custom_target(${name}_skel_gen DEPENDS "${skel}")
	add_dependencies(${name}_skel_gen fornax_vmlinux_h)
	add_library(${name}_skel INTERFACE)
	add_dependencies(${name}_skel ${name}_skel_gen)
	target_include_directories(${name}_skel INTERFACE "${FORNAX_BPF_GEN_DIR}" "${src_dir}")
endfunction()

# The real-BPF integration tests again, inside Debian 12's own kernel: the
# linux-image-cloud-amd64 of bookworm (6.1), which scripts/setup.sh extracts
# from Debian's package, booted under qemu by tests/vm/run_in_vm.py. Label
# "vm". They need neither root nor BPF on the host, only qemu and the kernel;
# without those they skip, except under CI=true, where a skip is a failure.
#
# Only the release build registers them: they test what the kernel does with
# the programs, which the sanitizers do not change, and emulation (TCG, as KVM
# is not available everywhere) makes every guest second cost several.
if(FORNAX_SANITIZE)
	return()
endif()

set(FX_VM_RUNNER "${FORNAX_TEST_ROOT}/vm/run_in_vm.py")

# What the Python harness needs inside the guest: the interpreter and its
# standard library, go's pprof tool and protoc (fornaxtest.py's independent
# readers), readelf, a shell and unshare. Tests that need more (node for the
# JIT tests) name it with INCLUDE.
execute_process(COMMAND ${FORNAX_SYSTEM_PYTHON} -c
		"import sysconfig; print(sysconfig.get_paths()['stdlib'])"
	OUTPUT_VARIABLE FX_VM_PYTHON_LIB OUTPUT_STRIP_TRAILING_WHITESPACE)
set(FX_VM_TOOLS ${FORNAX_SYSTEM_PYTHON} ${FX_VM_PYTHON_LIB})
find_program(FX_VM_GO go)
if(FX_VM_GO)
	execute_process(COMMAND ${FX_VM_GO} env GOROOT
		OUTPUT_VARIABLE FX_VM_GOROOT OUTPUT_STRIP_TRAILING_WHITESPACE)
	list(APPEND FX_VM_TOOLS ${FX_VM_GO} ${FX_VM_GOROOT}/bin/go ${FX_VM_GOROOT}/VERSION
		${FX_VM_GOROOT}/pkg/tool/linux_amd64/pprof)
endif()
foreach(tool protoc readelf sh dash unshare)
	find_program(FX_VM_${tool} ${tool})
	if(FX_VM_${tool})
		list(APPEND FX_VM_TOOLS ${FX_VM_${tool}})
	endif()
endforeach()
foreach(path /usr/share/gocode/src/github.com/google/pprof/proto /usr/lib/debug)
	if(EXISTS ${path})
		list(APPEND FX_VM_TOOLS ${path})
	endif()
endforeach()

# fornax_vm_test(<name> KERNEL <release prefix> SCRIPT <test_*.py> [TESTS <Class[.method]>...]
#                [INCLUDE <path>...] [ONE_TCG_THREAD] [NO_TRACEFS])
# Runs the script (or the named tests of it) in the guest, with the same
# environment the host's bpf tests get.
function(fornax_vm_test name)
	cmake_parse_arguments(ARG "ONE_TCG_THREAD;NO_TRACEFS" "KERNEL;SCRIPT" "TESTS;INCLUDE" ${ARGN})
	set(threads)
	if(ARG_ONE_TCG_THREAD)
		set(threads --one-tcg-thread)
	endif()
	if(ARG_NO_TRACEFS)
		list(APPEND threads --no-tracefs)
	endif()
	set(includes)
	foreach(path ${FX_VM_TOOLS} $<TARGET_FILE:fornax> $<TARGET_FILE:fornax_workload>
			"${FORNAX_TEST_ROOT}/integration" ${ARG_INCLUDE})
		list(APPEND includes --include ${path})
	endforeach()
	add_test(NAME ${name}
		COMMAND ${FORNAX_SYSTEM_PYTHON} ${FX_VM_RUNNER} --kernel ${ARG_KERNEL} --timeout 540 ${threads}
			${includes}
			--env FORNAX=$<TARGET_FILE:fornax>
			--env FORNAX_WORKLOAD=$<TARGET_FILE:fornax_workload>
			--env FORNAX_HELPERS=${FX_HELPER_OUT}
			--env FORNAX_BUILD_DIR=${CMAKE_BINARY_DIR}
			--env UNWIND_WORKLOAD=${UNWIND_WORKLOAD_NOFP}
			--env UNWIND_WORKLOAD_FP=${UNWIND_WORKLOAD_FP}
			--env FORNAX_TEST_WORKLOAD_SLACK=5
			-- ${FORNAX_SYSTEM_PYTHON} "${FORNAX_TEST_ROOT}/integration/${ARG_SCRIPT}" -v
			${ARG_TESTS})
	set_tests_properties(${name} PROPERTIES
		LABELS vm
		TIMEOUT 600
		SKIP_RETURN_CODE 77
		RUN_SERIAL TRUE)
endfunction()

# What holds on 6.1. Before Linux 6.4 an inlined map update's error reaches
# the sampling program zero-extended; the stack and share tests fail when the
# program compares it as a long (a stack seen before taken for a full map and
# dropped), and BesideChurn checks that nothing is dropped at the default
# sizes and that the loss counters match the profiles. Left out: tests whose
# figures depend on timing that emulation on a loaded host moves (samples per
# second of guest time, window lengths, a workload outliving the agent's start
# (Fornax.test_pid_filter), how soon a process's tables are in:
# DeepChain, DepthLimit, AcrossLibc, Threads, SignalFrames, KernelAndJit; the
# short-lived process shares), SplitWorkload's inlined-frame check (too few
# samples land in the inlined helper under emulation), and tests that need
# what the guest does not have (node, libdebuginfod). Its syscall-heavy
# program met qemu's stale-translation bug (see run_in_vm.py): one TCG thread.
# So did the symbolize guest's (fornax_workload beside the agent's attach), whose
# tests name frames and do not count on the guest's speed: one thread too.
# The unwind guest mounts no tracefs, as a machine without systemd: the mmap
# hooks FromTheFirstSample needs attach only if the agent mounts it.
fornax_vm_test(vm_6.1_profile KERNEL 6.1 SCRIPT test_profile.py ONE_TCG_THREAD
	TESTS SplitWorkload.test_pprof_header SplitWorkload.test_labels
		SplitWorkload.test_leaf_shares_match_the_work_split
		SplitWorkload.test_mapping_carries_build_id_and_range
		SplitWorkload.test_stacks_reach_main_through_the_call_chain
		Fornax.test_folded_output Fornax.test_kernel_frames_for_a_syscall_heavy_program
		Fornax.test_no_kernel_keeps_user_frames_only)
fornax_vm_test(vm_6.1_unwind KERNEL 6.1 SCRIPT test_unwind.py NO_TRACEFS
	TESTS NewCode BesideChurn FromTheFirstSample
	INCLUDE ${UNWIND_WORKLOAD_NOFP} ${UNWIND_WORKLOAD_FP} ${UNWIND_DL} ${FX_HELPER_OUT}/fornax_churn)
fornax_vm_test(vm_6.1_symbolize KERNEL 6.1 SCRIPT test_symbolize.py ONE_TCG_THREAD
	TESTS Cgroups MountNamespace Stripped.test_without_debug_files_names_come_from_dynsym_only
		Stripped.test_debuglink_and_private_build_id_directory
	INCLUDE ${FX_HELPER_OUT}/stripped)

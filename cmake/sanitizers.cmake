# -DFORNAX_SANITIZE=ON builds everything with AddressSanitizer and
# UndefinedBehaviorSanitizer; any UB report aborts so tests fail loudly.
option(FORNAX_SANITIZE "Build with ASan and UBSan" OFF)
if(FORNAX_SANITIZE)
	add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
		-fno-omit-frame-pointer)
	add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()

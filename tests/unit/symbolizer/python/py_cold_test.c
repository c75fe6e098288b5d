// SPDX-License-Identifier: Apache-2.0
/*
 * The cold part of a function, found without symbols, against the .cold
 * symbol GCC wrote for the fixture, and in Debian's python3.11, whose
 * .dynsym covers only the hot part of _PyEval_EvalFrameDefault.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "py_cold.h"
#include "test.h"

#define PYTHON "/usr/bin/python3.11"

struct symbol {
	__u64 value, size;
	bool found;
};

static int fd = -1;
static Elf *elf;

static int open_elf(const char *path)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	return elf ? 0 : -1;
}

static void close_elf(void)
{
	elf_end(elf);
	elf = NULL;
	if (fd >= 0)
		close(fd);
	fd = -1;
}

static struct symbol find_symbol(const char *name)
{
	struct symbol out = { 0 };
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
		    !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (!gelf_getsym(data, (int)i, &sym) || !sym.st_value)
				continue;
			n = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (n && !strcmp(n, name))
				return (struct symbol){ sym.st_value, sym.st_size, true };
		}
	}
	return out;
}

TEST(finds_the_part_gcc_split_off)
{
	struct symbol check, cold;
	__u64 lo = 0, hi = 0;

	ASSERT_EQ(open_elf(COLD_FIXTURE), 0);
	check = find_symbol("check");
	cold = find_symbol("check.cold");
	ASSERT_TRUE(check.found && check.size);
	/* the compiler must have split it, or the case is not set up */
	ASSERT_TRUE(cold.found && cold.size);
	ASSERT_EQ(py_cold__find(elf, check.value, check.size, &lo, &hi), 0);
	ASSERT_UEQ(lo, cold.value);
	ASSERT_UEQ(hi, cold.value + cold.size);
	close_elf();
	return 0;
}

TEST(functions_without_one_have_none)
{
	struct symbol complain, main_fn;
	__u64 lo = 0, hi = 0;

	ASSERT_EQ(open_elf(COLD_FIXTURE), 0);
	complain = find_symbol("complain");
	main_fn = find_symbol("main");
	ASSERT_TRUE(complain.found && main_fn.found);
	ASSERT_EQ(py_cold__find(elf, complain.value, complain.size, &lo, &hi), -ENOENT);
	ASSERT_EQ(py_cold__find(elf, main_fn.value, main_fn.size, &lo, &hi), -ENOENT);
	close_elf();
	return 0;
}

TEST(bad_ranges_are_refused)
{
	struct symbol check;
	__u64 lo = 0, hi = 0;

	ASSERT_EQ(open_elf(COLD_FIXTURE), 0);
	check = find_symbol("check");
	ASSERT_EQ(py_cold__find(elf, check.value, 0, &lo, &hi), -EINVAL);
	ASSERT_EQ(py_cold__find(elf, check.value, PY_COLD_MAX_BODY + 1, &lo, &hi), -EINVAL);
	ASSERT_EQ(py_cold__find(elf, ~0ull - 16, 64, &lo, &hi), -EINVAL);
	/* past the end of the executable section */
	ASSERT_EQ(py_cold__find(elf, check.value, 1u << 19, &lo, &hi), -EINVAL);
	ASSERT_EQ(py_cold__find(elf, 0x10, 0x20, &lo, &hi), -EINVAL);
	close_elf();
	return 0;
}

/* Debian's build, stripped: .dynsym's size covers the hot part alone. */
TEST(cpython_eval_loop_has_one)
{
	struct symbol eval;
	__u64 lo = 0, hi = 0;

	if (access(PYTHON, R_OK) != 0) {
		if (getenv("CI"))
			TEST_FAIL("no %s", PYTHON);
		TEST_SKIP("no %s", PYTHON);
	}
	ASSERT_EQ(open_elf(PYTHON), 0);
	eval = find_symbol("_PyEval_EvalFrameDefault");
	ASSERT_TRUE(eval.found && eval.size > 4096);
	ASSERT_EQ(find_symbol("_PyEval_EvalFrameDefault.cold").found, false);
	ASSERT_EQ(py_cold__find(elf, eval.value, eval.size, &lo, &hi), 0);
	fprintf(stderr, "  _PyEval_EvalFrameDefault [%#llx, %#llx), cold part [%#llx, %#llx)\n",
		(unsigned long long)eval.value, (unsigned long long)(eval.value + eval.size),
		(unsigned long long)lo, (unsigned long long)hi);
	ASSERT_TRUE(hi > lo + 1024);
	ASSERT_TRUE(hi <= eval.value || lo >= eval.value + eval.size);
	close_elf();
	return 0;
}

int main(void)
{
	RUN(finds_the_part_gcc_split_off);
	RUN(functions_without_one_have_none);
	RUN(bad_ranges_are_refused);
	RUN(cpython_eval_loop_has_one);
	return test_summary();
}

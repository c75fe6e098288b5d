// SPDX-License-Identifier: Apache-2.0
/* A program that embeds libpython3.X.so: CPython lives in a shared library here. */
#include <Python.h>

int main(void)
{
	int ret;

	Py_Initialize();
	ret = PyRun_SimpleString("import sys\n"
				 "def waiting():\n"
				 "    print('ready', flush=True)\n"
				 "    sys.stdin.readline()\n"
				 "waiting()\n");
	return Py_FinalizeEx() < 0 || ret ? 1 : 0;
}

"""The live process py_code_test.c reads. Prints what it knows about itself:

  R <&_PyRuntime> <PyThreadState *> <native thread id>
  C <id(code)> <co_firstlineno> <code units> <qualname, UTF-8 hex> <filename, UTF-8 hex>
  O <id(code)> <byte offset> <line>          (co_lines, one per code unit)
  W <id(code) of the waiting frame> <id(code) of its caller>
then waits for commands on stdin: "reuse A B" copies code object B's
header over A's, as if A had been freed and B allocated in its place.
"""
import ctypes
import sys
import threading

api = ctypes.pythonapi
api.PyThreadState_Get.restype = ctypes.c_void_p


class Outer:
    def method(self):
        def inner():
            return self
        return inner


ns = {}
# str kinds: latin-1 name and file name, UCS-2 name, UCS-4 name and file name
exec(compile("def caf\u00e9():\n    return 1\n", "/tmp/\u00e9t\u00e9.py", "exec"), ns)
exec(compile("\n\ndef \u0436\u0443\u043a(x):\n    y = x\n    return y\n", "/tmp/\u20ac.py", "exec"), ns)
exec(compile("def \U00020000():\n    return 2\n", "/tmp/\U0001f600.py", "exec"), ns)


def ascii_function(a, b):
    c = a + b
    for i in range(3):
        c += i
    return c


CODES = [ascii_function.__code__, Outer.method.__code__, Outer().method().__code__,
         ns["caf\u00e9"].__code__, ns["\u0436\u0443\u043a"].__code__, ns["\U00020000"].__code__]


def main():
    runtime = ctypes.addressof(ctypes.c_char.in_dll(api, "_PyRuntime"))
    print("R", runtime, api.PyThreadState_Get(), threading.get_native_id())
    for code in CODES:
        print("C", id(code), code.co_firstlineno, len(code.co_code) // 2,
              code.co_qualname.encode().hex(), code.co_filename.encode().hex())
        for start, end, line in code.co_lines():
            for off in range(start, end, 2):
                print("O", id(code), off, -1 if line is None else line)
    wait_here()


def wait_here():
    print("W", id(sys._getframe().f_code), id(sys._getframe(1).f_code), flush=True)
    for command in sys.stdin:
        words = command.split()
        if words[:1] == ["reuse"]:
            a, b = CODES[int(words[1])], CODES[int(words[2])]
            # everything up to the bytecode: type, size, names, tables
            ctypes.memmove(id(a) + 8, id(b) + 8, 184 - 8)
        print("ok", flush=True)


main()

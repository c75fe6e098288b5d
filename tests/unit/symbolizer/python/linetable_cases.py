"""Prints the location tables of real functions and what CPython itself
decodes from them (co_positions, co_lines), for py_linetable_test.c:

  F <name> <co_firstlineno> <co_linetable hex or -> <code units>
  P <line> <end line> <column> <end column>      one per code unit, -1: None
  L <start> <end> <line>                         co_lines(), -1: None
"""
import asyncio
import json


def simple(a, b):
    return a + b


def loops(n):
    total = 0
    for i in range(n):
        if i % 3 == 0:
            total += i
        elif i % 5:
            total -= 1
        else:
            continue
    while total > 10:
        total //= 2
    return total


def exceptions(x):
    try:
        return 1 / x
    except ZeroDivisionError as e:
        raise ValueError("zero") from e
    finally:
        x = None


def multiline(a,
              b):
    value = (a +
             b *
             a) + json.dumps({"k": [a, b,
                                    a * b]})
    return value


def long_columns(x):
    return x + xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx(x)


def xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx(x):
    return x


def comprehension(xs):
    return [y * 2 for y in xs if y], {k: v for k, v in zip(xs, xs)}


def generator(n):
    for i in range(n):
        yield i


async def coroutine():
    await asyncio.sleep(0)
    return [lambda: 1][0]()


class Outer:
    def method(self):
        def inner():
            return self
        return inner


# Large line jumps and a body far from its def, as generated code has.
exec(compile("\n" * 700 + "def far(x):\n" + "\n" * 300 + "    return x\n" + "\n" * 5000 +
             "def farther():\n    return 1\n", "<generated>", "exec"))


def codes():
    for f in (simple, loops, exceptions, multiline, long_columns, comprehension, generator,
              coroutine, Outer.method, Outer().method(), far, farther):  # noqa: F821
        yield f.__qualname__, f.__code__
        for const in f.__code__.co_consts:
            if hasattr(const, "co_linetable"):
                yield const.co_qualname, const
    mod = compile(open(__file__).read(), __file__, "exec")
    yield "<module>", mod


def none(v):
    return -1 if v is None else v


for name, code in codes():
    table = code.co_linetable.hex() or "-"
    print("F", name.replace(" ", "_"), code.co_firstlineno, table, len(code.co_code) // 2)
    for pos in code.co_positions():
        print("P", *(none(v) for v in pos))
    for start, end, line in code.co_lines():
        print("L", start, end, none(line))

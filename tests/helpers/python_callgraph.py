"""A Python workload with a known call graph, for fornax's Python frames.

Three leaf functions take 60, 30 and 10 % of the time under a few levels of
Python calls; leaf_c runs as a key function that sorted() (C code) calls
back, so its stacks read Python -> C -> Python. Runs until killed, or for
argv[1] seconds.
"""
import sys
import time

UNIT = 20000


def spin(n):
    x = 0
    for i in range(n):
        x += i * i
    return x


def leaf_a():
    return spin(6 * UNIT)


def leaf_b():
    return spin(3 * UNIT)


def leaf_c(v):
    return spin(UNIT // 8)


def through_c():
    # sorted() calls leaf_c eight times: one UNIT in all
    return sorted(range(8), key=leaf_c)


def middle():
    leaf_a()
    leaf_b()
    through_c()


def outer():
    middle()


def main():
    deadline = time.monotonic() + float(sys.argv[1]) if len(sys.argv) > 1 else None
    print("ready", flush=True)
    while deadline is None or time.monotonic() < deadline:
        outer()


if __name__ == "__main__":
    main()

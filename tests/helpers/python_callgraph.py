"""A Python workload with a known call graph, for fornax's Python frames.

Three leaf functions take 60, 30 and 10 % of the time under a few levels of
Python calls; leaf_c runs as a key function that sorted() (C code) calls
back, so its stacks read Python -> C -> Python. Runs until killed, or for
argv[1] seconds; argv[2] adds that many recursive calls of outer() above
middle(), for deep stacks.
"""
import random
import sys
import time

UNIT = 20000


def spin(n):
    # every iteration costs the same: no int grows past one digit
    x = 0
    for i in range(n):
        x = (x + i) & 0xffff
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
    # A round (10 UNITs) takes about as long as a sampling period at 199 Hz:
    # a fixed round would keep the same phase against the samples and skew
    # the shares by up to 8 points (aliasing). Up to one UNIT of random work,
    # outside the leaves, shifts each round's phase.
    spin(random.randrange(UNIT))
    leaf_a()
    leaf_b()
    through_c()


def outer(depth=0):
    if depth > 0:
        return outer(depth - 1)
    middle()


def main():
    deadline = time.monotonic() + float(sys.argv[1]) if len(sys.argv) > 1 else None
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print("ready", flush=True)
    while deadline is None or time.monotonic() < deadline:
        outer(depth)


if __name__ == "__main__":
    main()

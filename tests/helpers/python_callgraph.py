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


def leaf_a(unit):
    return spin(6 * unit)


def leaf_b(unit):
    return spin(3 * unit)


def leaf_c(unit):
    return spin(unit // 8)


def through_c(unit):
    # sorted() calls leaf_c eight times: one unit in all
    return sorted([unit] * 8, key=leaf_c)


def middle():
    # A round (10 units) takes about as long as a sampling period at 199 Hz:
    # rounds of one length keep nearly the same phase against the samples,
    # round after round, and skewed the shares by up to 14 points (aliasing).
    # Each round's unit is drawn from 0.5..1.5 UNIT: its length varies by a
    # whole period, its leaves keep their 6:3:1 shares.
    unit = random.randrange(UNIT // 2, 3 * UNIT // 2)
    leaf_a(unit)
    leaf_b(unit)
    through_c(unit)


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

"""Python workloads whose stacks have shapes the frame walker must follow.

  python_shapes.py threads SECONDS     three threads, each in its own function
  python_shapes.py asyncio SECONDS     three coroutines taking turns in one event loop
  python_shapes.py generators SECONDS  a pipeline of generators drained by sum()
  python_shapes.py exceptions SECONDS  exceptions raised three calls deep and caught
  python_shapes.py subinterpreters SECONDS
                                       the main thread taking turns between its own
                                       interpreter and a sub-interpreter, beside a
                                       thread compressing without the GIL

Prints one line with what the test needs (the threads' native ids, or
"ready"), then runs until SECONDS have passed.
"""
import asyncio
import sys
import threading
import time
import zlib


def spin(n):
    x = 0
    for i in range(n):
        x = (x + i) & 0xffff
    return x


# ---- threads: each thread's samples must show its own function ----

def thread_a(deadline):
    while time.monotonic() < deadline:
        spin(20000)


def thread_b(deadline):
    while time.monotonic() < deadline:
        spin(20000)


def thread_c(deadline):
    while time.monotonic() < deadline:
        spin(20000)


def threads(deadline):
    started = []
    ready = threading.Barrier(4)

    def run(fn):
        ready.wait()
        fn(deadline)

    for fn in (thread_a, thread_b, thread_c):
        t = threading.Thread(target=run, args=(fn,), name=fn.__name__)
        t.start()
        started.append(t)
    ready.wait()
    print(" ".join(f"{t.name}={t.native_id}" for t in started), flush=True)
    for t in started:
        t.join()


# ---- asyncio: coroutine frames under the event loop's ----

async def coro_a(deadline):
    while time.monotonic() < deadline:
        spin(5000)
        await asyncio.sleep(0)


async def coro_b(deadline):
    while time.monotonic() < deadline:
        spin(5000)
        await asyncio.sleep(0)


async def gather_all(deadline):
    print("ready", flush=True)
    await asyncio.gather(coro_a(deadline), coro_b(deadline))


def run_asyncio(deadline):
    asyncio.run(gather_all(deadline))


# ---- generators: each stage resumed by the next one's FOR_ITER or by sum() (C) ----

def produce(n):
    for i in range(n):
        yield spin(200) + i


def keep_even(src):
    for v in src:
        if v % 2 == 0:
            yield v


def scale(src):
    for v in src:
        yield v * 3


def pipeline():
    return sum(scale(keep_even(produce(1000))))


def generators(deadline):
    print("ready", flush=True)
    while time.monotonic() < deadline:
        pipeline()


# ---- exceptions: raised, unwound through frames and caught, all the time ----
# Much of the interpreter's raising and unwinding runs in _PyEval_EvalFrameDefault's cold
# part (GCC's .cold fragment), which Debian's .dynsym does not cover.

def raise_deep(depth):
    if depth == 0:
        spin(30)
        raise ValueError(depth)
    raise_deep(depth - 1)


def catch_all(deadline):
    caught = 0
    while time.monotonic() < deadline:
        for _ in range(100):
            try:
                raise_deep(3)
            except ValueError:
                caught += 1
    return caught


def exceptions(deadline):
    print("ready", flush=True)
    catch_all(deadline)


# ---- sub-interpreters: only the main interpreter's threads are walked ----

SUB_CODE = """
import time

def sub_spin(deadline):
    x = 0
    while time.monotonic() < deadline:
        x = (x + 1) & 0xffff

sub_spin(time.monotonic() + 0.05)
"""


def main_spin(deadline):
    while time.monotonic() < deadline:
        spin(2000)


def compress_loop(deadline):
    data = bytes(range(256)) * 4096
    while time.monotonic() < deadline:
        zlib.compress(data, 6)  # releases the GIL


def subinterpreters(deadline):
    import _xxsubinterpreters as interpreters

    sub = interpreters.create()
    worker = threading.Thread(target=compress_loop, args=(deadline,))
    worker.start()
    print(f"main={threading.get_native_id()} compress={worker.native_id}", flush=True)
    while time.monotonic() < deadline:
        interpreters.run_string(sub, SUB_CODE)
        main_spin(time.monotonic() + 0.05)
    worker.join()


def main():
    mode, seconds = sys.argv[1], float(sys.argv[2])
    deadline = time.monotonic() + seconds
    {"threads": threads, "asyncio": run_asyncio, "generators": generators,
     "exceptions": exceptions, "subinterpreters": subinterpreters}[mode](deadline)


if __name__ == "__main__":
    main()

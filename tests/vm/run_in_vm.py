# SPDX-License-Identifier: Apache-2.0
"""Runs one command as root inside a Debian kernel booted under qemu.

    run_in_vm.py [--kernel 6.1|VMLINUZ] [--include PATH]... [--env NAME=VALUE]...
                 [--cwd DIR] [--timeout SECONDS] -- command [args...]

The kernel is one that scripts/setup.sh extracted from Debian's own package
(linux-image-cloud-amd64 of bookworm) into the cache directory. That kernel
has neither 9p nor a virtiofs daemon on Debian 12's side to serve it, so the
guest's root is an initramfs built here, at run time: the host files the
command needs, at their host paths, with every shared library they link
(DT_NEEDED, resolved as the loader does), so the same absolute paths and
environment work inside.
The guest mounts proc, sys, devtmpfs, bpffs, debugfs, tracefs and cgroup2,
runs the command as root with a fresh /tmp, and powers off.

The command's output goes to the second serial port and is copied to stdout
as it comes; the kernel's console goes to the first, shown when the guest
does not end normally. The exit status is the command's, 124 on timeout,
and 77 (a skip) when qemu or the kernel is missing -- under CI=true that is
a failure (1) instead.
"""
import argparse
import ctypes
import fnmatch
import glob
import os
import re
import secrets
import shlex
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
TIMED_OUT = 124
STALE_TRANSLATION = -1  # run()'s answer when qemu, not the guest, failed (never an exit status)
BUSYBOX = "/bin/busybox"
QEMU = "qemu-system-x86_64"
GUEST_DIR = "fornax-vm"  # the runner's own files inside the guest
# Parts of the Python standard library no test imports; the rest goes in whole.
PYTHON_PRUNE = ("idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
                "config-*", "test", "unittest/test")
ETC_FILES = ("/etc/ld.so.cache", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
             "/etc/localtime")


def cache_dir():
    """Where scripts/setup.sh extracts kernels (the same rule as there)."""
    if os.environ.get("FORNAX_VM_CACHE"):
        return os.environ["FORNAX_VM_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fornax", "vm")


def version_key(path):
    """Sort key for a kernel release like 6.1.0-57-cloud-amd64: numbers compare as numbers."""
    release = os.path.basename(path).removeprefix("vmlinuz-")
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", release)]


def find_kernel(spec):
    """A vmlinuz path, or the newest cached kernel whose release starts with spec."""
    if spec and os.path.sep in spec:
        return spec if os.path.isfile(spec) else None
    found = glob.glob(os.path.join(cache_dir(), "*", "boot", "vmlinuz-*"))
    if spec:
        found = [k for k in found if os.path.basename(k).startswith(f"vmlinuz-{spec}.")]
    return max(found, key=version_key) if found else None


def skip_or_fail(reason):
    if os.environ.get("CI", "").lower() == "true":
        print(f"run_in_vm: FAIL: {reason} (CI=true: the VM tests must run; "
              "scripts/setup.sh installs what they need)", file=sys.stderr)
        sys.exit(1)
    print(f"run_in_vm: SKIP: {reason}; scripts/setup.sh installs it", file=sys.stderr)
    sys.exit(SKIP)


class Cpio:
    """An initramfs: a "newc" cpio archive, the format the kernel unpacks."""

    def __init__(self, f):
        self.f = f
        self.ino = 1
        self.seen = set()

    def _entry(self, name, mode, data, mtime=0):
        name_b = name.encode() + b"\0"
        header = b"070701" + b"".join(b"%08X" % v for v in (
            self.ino, mode, 0, 0, 1, mtime, len(data), 0, 0, 0, 0, len(name_b), 0))
        self.ino += 1
        self.f.write(header + name_b + b"\0" * (-(110 + len(name_b)) % 4))
        self.f.write(data + b"\0" * (-len(data) % 4))

    def directory(self, name, mode=0o755):
        if name not in self.seen:
            self.seen.add(name)
            self._entry(name, stat.S_IFDIR | mode, b"")

    def data(self, name, data, mode=0o644):
        self.seen.add(name)
        self._entry(name, stat.S_IFREG | mode, data)

    def host_path(self, path):
        """Adds a host path at the same path, and every directory and symlink on the way.

        Directories go in under their real path: an archive entry below a
        symlink (lib/x86_64-linux-gnu with lib -> usr/lib) would be unpacked
        through the link or fail. Returns the path with every link resolved.
        """
        real = "/"
        for part in path.strip("/").split("/"):
            if not part:
                continue
            here = os.path.join(real, part)
            st = os.lstat(here)
            name = here.lstrip("/")
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(here)
                if name not in self.seen:
                    self.seen.add(name)
                    self._entry(name, st.st_mode, target.encode(), int(st.st_mtime))
                real = self.host_path(os.path.normpath(os.path.join(real, target)))
                continue
            if name not in self.seen:
                self.seen.add(name)
                if stat.S_ISREG(st.st_mode):
                    with open(here, "rb") as f:
                        self._entry(name, st.st_mode, f.read(), int(st.st_mtime))
                elif stat.S_ISDIR(st.st_mode):
                    self._entry(name, st.st_mode, b"", int(st.st_mtime))
            real = here
        return real

    def trailer(self):
        self._entry("TRAILER!!!", 0, b"")


def walk(path, prune=()):
    """path and, for a directory, everything under it except the pruned subdirectories."""
    if not os.path.isdir(path) or os.path.islink(path):
        yield path
        return
    for root, dirs, files in os.walk(path):
        rel = os.path.relpath(root, path)
        dirs[:] = [d for d in dirs if not any(fnmatch.fnmatch(os.path.normpath(
            os.path.join(rel, d)), p) for p in prune)]
        yield root
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            yield os.path.join(root, name)


def library_dirs():
    """Where the dynamic loader looks, as /etc/ld.so.conf lists it, then its defaults."""
    dirs = []
    for conf in sorted(glob.glob("/etc/ld.so.conf.d/*.conf")):
        with open(conf) as f:
            dirs.extend(line.strip() for line in f
                        if line.startswith("/") and os.path.isdir(line.strip()))
    return dirs + ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]


def elf_dependencies(path):
    """The interpreter and DT_NEEDED names of a 64-bit little-endian ELF file, and its
    DT_RUNPATH/DT_RPATH directories; None for anything else (scripts, data, .o files)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if data[:6] != b"\x7fELF\x02\x01" or struct.unpack_from("<H", data, 16)[0] not in (2, 3):
        return None
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    loads, dynamic, interp = [], None, None
    for i in range(phnum):
        p_type, _, off, vaddr, _, filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1:
            loads.append((vaddr, off, filesz))
        elif p_type == 2:
            dynamic = (off, filesz)
        elif p_type == 3:
            interp = data[off:off + filesz].rstrip(b"\0").decode()

    def at(vaddr):
        return next(off + vaddr - v for v, off, size in loads if v <= vaddr < v + size)

    needed, paths, strtab = [], [], None
    entries = []
    if dynamic:
        for i in range(dynamic[0], dynamic[0] + dynamic[1], 16):
            tag, val = struct.unpack_from("<qQ", data, i)
            if tag == 0:
                break
            entries.append((tag, val))
            if tag == 5:  # DT_STRTAB
                strtab = at(val)

    def string(offset):
        return data[strtab + offset:data.index(b"\0", strtab + offset)].decode()

    for tag, val in entries:
        if tag == 1:  # DT_NEEDED
            needed.append(string(val))
        elif tag in (15, 29):  # DT_RPATH, DT_RUNPATH
            origin = os.path.dirname(os.path.realpath(path))
            paths.extend(d.replace("$ORIGIN", origin) for d in string(val).split(":"))
    return interp, needed, paths


def shared_libraries(paths):
    """Every library the ELF files in paths load, resolved the way the loader does."""
    default_dirs = library_dirs()
    libs, todo, done = set(), list(paths), set()
    while todo:
        path = os.path.realpath(todo.pop())
        if path in done or not os.path.isfile(path):
            continue
        done.add(path)
        deps = elf_dependencies(path)
        if not deps:
            continue
        interp, needed, dirs = deps
        found = [interp] if interp else []
        for name in needed:
            hit = next((p for p in (os.path.join(d, name) for d in dirs + default_dirs)
                        if os.path.exists(p)), None)
            if hit:
                found.append(hit)
        libs.update(found)
        todo.extend(found)
    return libs


# Left out with --no-tracefs, as on a machine without systemd: the agent then
# mounts tracefs itself for its tracepoints.
TRACEFS = """mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
"""


def init_script(command, env, cwd, marker, tracefs=True):
    """The guest's /init: mounts, runs the command as root, reports its status, powers off."""
    bb = f"/{GUEST_DIR}/busybox"
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    return f"""#!{bb} sh
{bb} mkdir -p /{GUEST_DIR}/bin && {bb} --install -s /{GUEST_DIR}/bin
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/{GUEST_DIR}/bin
mkdir -p /proc /sys /dev /tmp /run /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
chmod 1777 /tmp  # the initramfs may hold a build under /tmp: no tmpfs over it
mount -t tmpfs tmpfs /run
mount -t bpf bpf /sys/fs/bpf
{TRACEFS if tracefs else ""}mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
hostname fornax-vm
stty -F /dev/ttyS1 raw -echo
export HOME=/root LANG=C.UTF-8
{exports}echo "run_in_vm: $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s" > /dev/ttyS1
if cd {shlex.quote(cwd)} 2> /dev/ttyS1; then
	{shlex.join(command)} > /dev/ttyS1 2>&1 < /dev/null
	status=$?
else
	status=1
fi
echo "{marker} $status" > /dev/ttyS1
sync
poweroff -f
"""


def build_initramfs(path, args, command, env):
    """Writes the guest's initramfs; returns the exit-status marker its /init prints."""
    marker = f"run_in_vm-exit-{secrets.token_hex(8)}"
    wanted = []
    for inc in args.include:
        if not os.path.lexists(inc):
            raise SystemExit(f"run_in_vm: --include {inc}: no such file")
        prune = PYTHON_PRUNE if re.fullmatch(r"/usr/lib/python3\.\d+", inc) else ()
        wanted.extend(walk(os.path.abspath(inc), prune))
    wanted.extend(p for p in ETC_FILES if os.path.exists(p))
    wanted.extend(sorted(shared_libraries(wanted)))
    with open(path, "wb") as f:
        cpio = Cpio(f)
        cpio.directory(GUEST_DIR)
        with open(BUSYBOX, "rb") as bb:
            cpio.data(f"{GUEST_DIR}/busybox", bb.read(), 0o755)
        cpio.data("init", init_script(command, env, args.cwd, marker, not args.no_tracefs).encode(), 0o755)
        for p in wanted:
            cpio.host_path(p)
        cpio.trailer()
    return marker


def qemu_command(args, kernel, initrd, console, out):
    accel = "tcg"
    try:  # KVM when this machine has it, else emulation
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        accel = "kvm"
    except OSError:
        pass
    if accel == "tcg" and args.one_tcg_thread:
        accel = "tcg,thread=single"
    # A soft lockup panics the guest with every CPU's backtrace on the
    # console, shown below, instead of a run that waits for its timeout.
    append = ("console=ttyS0 panic=-1 oops=panic softlockup_panic=1 "
              "softlockup_all_cpu_backtrace=1 quiet loglevel=5 " + args.append)
    return [QEMU, "-accel", accel, "-nodefaults", "-no-user-config", "-display", "none",
            "-machine", "q35", "-cpu", "max" if accel.startswith("tcg") else "host",
            "-smp", str(args.cpus), "-m", f"{args.memory}M", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd, "-append", append,
            "-serial", f"file:{console}", "-serial", f"file:{out}"]


def die_with_parent():
    """In qemu's child, before exec: a killed runner (ctest's timeout) takes qemu with it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def run(args, command):
    kernel = find_kernel(args.kernel)
    if not shutil.which(QEMU):
        skip_or_fail(f"{QEMU} is not installed (qemu-system-x86)")
    if not kernel:
        skip_or_fail(f"no Debian kernel {args.kernel + ' ' if args.kernel else ''}in {cache_dir()}")
    if not os.access(BUSYBOX, os.X_OK):
        skip_or_fail(f"{BUSYBOX} is not installed (busybox-static)")
    env = dict(e.split("=", 1) for e in args.env)
    if "CI" in os.environ:  # the tests inside judge skips the same way
        env.setdefault("CI", os.environ["CI"])
    work = tempfile.mkdtemp(prefix="fornax-vm-")
    qemu = None
    try:
        initrd, console, out = (os.path.join(work, n) for n in ("initrd", "console", "out"))
        t0 = time.monotonic()
        marker = build_initramfs(initrd, args, command, env)
        print(f"run_in_vm: {os.path.basename(kernel)}, initramfs of "
              f"{os.path.getsize(initrd) >> 20} MiB built in {time.monotonic() - t0:.1f} s",
              file=sys.stderr, flush=True)
        open(out, "wb").close()
        qemu = subprocess.Popen(qemu_command(args, kernel, initrd, console, out),
                                stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        status = follow(qemu, out, marker, time.monotonic() + args.timeout)
        elapsed = time.monotonic() - t0
        if status is not None:
            print(f"run_in_vm: exit status {status}, {elapsed:.1f} s in all", file=sys.stderr)
            return status
        with open(console, errors="replace") as f:
            tail = f.read()[-30000:]
        why = "timed out" if qemu.poll() is None else f"qemu exited {qemu.returncode}"
        print(f"run_in_vm: {why} after {elapsed:.0f} s without the command's status; "
              f"the guest's console:\n{tail}", file=sys.stderr)
        if qemu.poll() is not None and not args.one_tcg_thread and stale_translation(tail):
            return STALE_TRANSLATION
        return TIMED_OUT if qemu.poll() is None else 1
    finally:
        if qemu and qemu.poll() is None:
            qemu.kill()
            qemu.wait()
        if args.keep:
            print(f"run_in_vm: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def stale_translation(console):
    """Did a guest CPU loop on qemu's stale int3 (see --one-tcg-thread below)?

    The signature is exact: the guest's lockup detector (softlockup_panic) or
    RCU stall report caught a CPU at asm_exc_int3, entered from the static
    branch in syscall_trace_enter that a tracepoint's attach had just patched.
    """
    stuck = "soft lockup" in console or "rcu_preempt detected stalls" in console
    return stuck and re.search(r"RIP: 0010:asm_exc_int3\+0x0/", console) is not None and \
        re.search(r"RIP: 0010:syscall_trace_enter[.\w]*\+", console) is not None


def follow(qemu, out, marker, deadline):
    """Copies the guest's output to stdout until its status line; returns the status."""
    status, pending = None, b""
    with open(out, "rb") as f:
        while True:
            done = qemu.poll() is not None
            chunk = f.read()
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()
            for line in lines:
                text = line.decode(errors="replace").rstrip("\r")
                if text.startswith(marker):
                    status = int(text.split()[1])
                else:
                    print(text, flush=True)
            if done:
                if pending:
                    print(pending.decode(errors="replace"), flush=True)
                return status
            if time.monotonic() > deadline:
                return None
            if not chunk:
                time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel", default=os.environ.get("FORNAX_VM_KERNEL", ""),
                    help="a release prefix such as 6.1 (newest cached wins) or a vmlinuz path")
    ap.add_argument("--include", action="append", default=[],
                    help="a host file or directory the command needs (repeatable)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--cwd", default="/tmp")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--memory", type=int, default=2048, help="MiB")
    ap.add_argument("--timeout", type=float, default=600, help="seconds, boot included")
    ap.add_argument("--append", default="", help="more kernel command line")
    ap.add_argument("--keep", action="store_true", help="keep the initramfs and logs")
    # With a host thread per vCPU, Debian 12's qemu (7.2) can keep running a
    # stale translation of kernel text another vCPU has just patched: a guest
    # CPU looped on an int3 no longer in memory (kprobe_int3_handler backs up
    # over it, the old translation runs it again) at a tracepoint's static
    # branch in syscall_trace_enter, when the agent attached or detached its
    # tracepoints while a syscall-heavy program ran (2 runs in 7). One thread
    # for every vCPU avoids it (8 runs in 8), but halves the guest's CPU,
    # which the timing of the unwind tests needs. Their guest keeps a thread
    # per vCPU and met the bug once in about 30 runs: a run that ends that
    # way (stale_translation()) is run once more, and says so.
    ap.add_argument("--one-tcg-thread", action="store_true",
                    help="emulate every vCPU on one host thread")
    ap.add_argument("--no-tracefs", action="store_true",
                    help="mount neither debugfs nor tracefs in the guest")
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()
    for e in args.env:
        if "=" not in e:
            ap.error(f"--env {e}: want NAME=VALUE")
    # SIGTERM (ctest's timeout) unwinds through run()'s cleanup like Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    status = run(args, args.command)
    if status == STALE_TRANSLATION:
        # The emulator's fault, not the guest's: the whole command once more, said aloud.
        print("run_in_vm: a guest CPU looped on qemu's stale int3 (see --one-tcg-thread); "
              "running the command once more", file=sys.stderr, flush=True)
        status = run(args, args.command)
        if status == STALE_TRANSLATION:
            status = 1
    sys.exit(status)


if __name__ == "__main__":
    main()

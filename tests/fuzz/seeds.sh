#!/usr/bin/env bash
# Regenerates the seeds of tests/fuzz/corpus/ that are not plain text: small
# ELF files for elf_file_fuzz, crafted profiles for pprof_decode_fuzz, spool
# files for spool_fuzz; and the inputs that once crashed outputs_fuzz. The text
# seeds (maps, kallsyms, perf maps) are written by hand.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/tiny.c" <<'SRC'
static inline int helper(int x) { return x * 3 + 1; }
__attribute__((noinline)) int work(int x) { return helper(x) ^ 5; }
void _start(void) { volatile int r = work(7); (void)r; for (;;) ; }
SRC
elf=corpus/elf_file_fuzz
gcc -Os -g -nostdlib -static -Wl,--build-id -o "$elf/static_dwarf" "$tmp/tiny.c"
strip --strip-debug -o "$elf/static_symtab" "$elf/static_dwarf"
strip -s -o "$elf/static_stripped" "$elf/static_dwarf"
gcc -Os -g -nostdlib -shared -fPIC -Wl,--build-id=none -o "$elf/shared_dwarf_nobid" "$tmp/tiny.c"
objcopy --add-gnu-debuglink="$elf/static_dwarf" "$elf/static_stripped" "$tmp/linked"
mv "$tmp/linked" "$elf/static_stripped_debuglink"
gcc -Os -g -c -o "$elf/relocatable" "$tmp/tiny.c"

# cfi_table_fuzz also reads elf_file_fuzz's seeds; these two carry the CFI the
# others lack: only .debug_frame (no .eh_frame), and .eh_frame with frame
# pointers off, so rows use CFA = rsp + N at every push and pop.
cfi=corpus/cfi_table_fuzz
mkdir -p "$cfi"
gcc -O2 -g -nostdlib -static -fno-asynchronous-unwind-tables -fno-unwind-tables \
	-Wl,--build-id -o "$cfi/debug_frame_only" "$tmp/tiny.c"
strip --only-keep-debug -o "$tmp/dbg" "$cfi/debug_frame_only"
mv "$tmp/dbg" "$cfi/debug_frame_only"
gcc -O2 -nostdlib -static -fomit-frame-pointer -fasynchronous-unwind-tables \
	-Wl,--build-id -o "$cfi/eh_frame_omit_fp" "$tmp/tiny.c"
strip -s "$cfi/eh_frame_omit_fp"

python3 - <<'PY'
import sys
sys.path.insert(0, "../integration")
import pprof_craft as pc

def write(path, p):
    with open(path, "wb") as f:
        f.write(p.encode())

# issue 16 case 7: both crash `fornax convert` (outputs_fuzz) until fixed

p = pc.Profile()
p.sample_type("samples", "count")
p.sample_type("cpu", "nanoseconds")
p.sample([], [3, 30])
p.sample([p.location([p.function("main.work")], address=0x401000)], [2, 20], {"comm": "w"})
write("corpus/outputs_fuzz/sample_without_locations", p)
p = pc.Profile()
p.sample_type("", "count")
p.sample([p.location([p.function("f"), p.function("inlined")])], [7])
write("corpus/outputs_fuzz/sample_type_named_empty", p)
pc.write_bomb("corpus/pprof_decode_fuzz/empty_samples_gzip", 1000)
PY

# A spool file as spool.c writes it: "FNXSPOOL", version 1, payload length,
# CRC-32 of the payload, 4 reserved bytes; the payload a Window made by protoc.
python3 - <<'PY'
import struct, subprocess, zlib
text = r'''
time_nanos: 1 duration_nanos: 10000000000 id: "0123456789abcdef"
series { labels { name: "comm" value: "spin" } labels { name: "pid" value: "42" }
         service_name: "spin" profile: "not a profile" }
series { labels { name: "" value: "\001\377" } }
'''
payload = subprocess.run(["protoc", "--encode=fornax.upload.v1.Window", "-I", "../../proto",
                          "../../proto/upload.proto"], input=text.encode(), check=True,
                         capture_output=True).stdout
with open("../fixtures/pprof/go_cpu.pb.gz", "rb") as f:
    profile = f.read()
text2 = text.replace('profile: "not a profile"', 'profile: "%s"' % "".join(f"\\{b:03o}" for b in profile))
payload2 = subprocess.run(["protoc", "--encode=fornax.upload.v1.Window", "-I", "../../proto",
                           "../../proto/upload.proto"], input=text2.encode(), check=True,
                          capture_output=True).stdout
for name, p in (("window_two_series", payload), ("window_go_profile", payload2)):
    head = b"FNXSPOOL" + struct.pack("<III", 1, len(p), zlib.crc32(p)) + b"\0" * 4
    with open(f"corpus/spool_fuzz/{name}", "wb") as f:
        f.write(head + p)
PY

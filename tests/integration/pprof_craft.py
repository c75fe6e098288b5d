# SPDX-License-Identifier: Apache-2.0
"""Writes pprof profiles field by field, for inputs no well-behaved encoder makes:
a sample without locations, a sample type named "", millions of empty samples.

Only the protobuf wire format (varints and length-delimited fields) of
perftools.profiles.Profile; the tests check what it writes with protoc --decode.

    python3 pprof_craft.py bomb OUT.pb.gz [SAMPLES]   the gzip of SAMPLES empty samples
"""
import gzip
import sys


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def packed(num, values):
    return field_bytes(num, b"".join(varint(v) for v in values))


class Profile:
    """A Profile message; ids are 1..N in the order things are added."""

    def __init__(self):
        self.strings = [b""]
        self.sample_types = []
        self.samples = []
        self.functions = []
        self.locations = []
        self.period_type = None

    def s(self, text):
        if isinstance(text, str):
            text = text.encode()
        if text not in self.strings:
            self.strings.append(text)
        return self.strings.index(text)

    def sample_type(self, type_, unit):
        self.sample_types.append(field_varint(1, self.s(type_)) + field_varint(2, self.s(unit)))

    def function(self, name):
        self.functions.append(field_varint(1, len(self.functions) + 1) +
                              field_varint(2, self.s(name)) + field_varint(3, self.s(name)))
        return len(self.functions)

    def location(self, function_ids, address=0):
        lines = b"".join(field_bytes(4, field_varint(1, f)) for f in function_ids)
        self.locations.append(field_varint(1, len(self.locations) + 1) +
                              (field_varint(3, address) if address else b"") + lines)
        return len(self.locations)

    def sample(self, location_ids, values, labels=None):
        msg = b""
        if location_ids:
            msg += packed(1, location_ids)
        if values:
            msg += packed(2, values)
        for k, v in (labels or {}).items():
            msg += field_bytes(3, field_varint(1, self.s(k)) + field_varint(2, self.s(v)))
        self.samples.append(msg)

    def encode(self):
        out = b"".join(field_bytes(1, t) for t in self.sample_types)
        out += b"".join(field_bytes(2, s) for s in self.samples)
        out += b"".join(field_bytes(4, loc) for loc in self.locations)
        out += b"".join(field_bytes(5, f) for f in self.functions)
        out += b"".join(field_bytes(6, s) for s in self.strings)
        return out


def write_bomb(path, samples):
    """A valid header, then `samples` empty Sample messages (2 bytes each), gzipped.

    Deflate compresses the repetition about 1000:1: 50 M samples, 100 MB of
    protobuf, make a file of about 100 KB.
    """
    p = Profile()
    p.sample_type("samples", "count")
    head = b"".join(field_bytes(1, t) for t in p.sample_types)
    head += b"".join(field_bytes(6, s) for s in p.strings)
    empty = field_bytes(2, b"")
    chunk = empty * (1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(head)
        left = samples
        while left:
            n = min(left, 1 << 20)
            f.write(chunk if n == 1 << 20 else empty * n)
            left -= n


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "bomb":
        write_bomb(sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 50_000_000)
    else:
        sys.exit(__doc__)

#!/usr/bin/env python3
"""Writes tiny_ref.safetensors: a hand-made safetensors file with known values, built with only
json + struct so that it does not depend on the reader under test (tests/test_io.cc checks it).
Layout: names sorted, compact sorted JSON header padded with spaces to a multiple of 8 bytes,
data in name order -- the same layout headprune's writer produces, so the test can also compare
a re-write byte for byte."""
import json
import os
import struct


def bf16(x):  # upper half of the float32 bit pattern; the values below are exact in bf16
    return struct.pack("<I", struct.unpack("<I", struct.pack("<f", x))[0])[2:]


TENSORS = [  # name, dtype, shape, packed little-endian data
    ("a_f32", "F32", [2, 3], struct.pack("<6f", 0.0, 1.5, -2.25, 65504.0, 0.125, -1.0)),
    ("b_f16", "F16", [2, 2], struct.pack("<4e", 1.0, -2.5, 2.0 ** -10, 65504.0)),
    ("c_bf16", "BF16", [3], b"".join(bf16(x) for x in (1.0, -0.5, 3.140625))),
    ("d_i64", "I64", [2], struct.pack("<2q", -1, 2 ** 40)),
    ("e_i32", "I32", [], struct.pack("<i", 42)),
    ("f_bool", "BOOL", [3], bytes([1, 0, 1])),
    ("g_empty", "F32", [0, 4], b""),
]
METADATA = {"format": "pt", "source": "make_tiny_ref.py"}

header, data = {"__metadata__": METADATA}, b""
for name, dtype, shape, raw in TENSORS:
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
text += b" " * (-len(text) % 8)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_ref.safetensors")
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + data)
print(out, 8 + len(text) + len(data), "bytes")

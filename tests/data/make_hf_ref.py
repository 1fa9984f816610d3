#!/usr/bin/env python3
"""Writes hf_ref.safetensors with the reference writer (the `safetensors` Python package, here
0.8.0 with torch 2.11 on the GPU machine), so tests/test_io.cc checks headprune's reader against
files made by the real implementation: its own tensor order (by alignment, then name), every dtype
headprune supports, a scalar, an empty tensor and metadata. Usage: python3 make_hf_ref.py [out_dir]"""
import os
import sys

import safetensors
import torch
from safetensors.torch import save_file

ref = {
    "f32": torch.tensor([[0.0, -1.5, 3.25], [1e-40, float("inf"), -0.0]]),
    "f16": torch.tensor([1.0, -2.5, 0.0009765625, 65504.0]).half(),
    "bf16": torch.tensor([1.0, -0.5, 3.140625]).bfloat16(),
    "f64": torch.tensor([0.1, -1e300], dtype=torch.float64),
    "i64": torch.tensor([-1, 2**40]),
    "i32": torch.tensor(42, dtype=torch.int32),
    "i16": torch.tensor([-300, 300], dtype=torch.int16),
    "i8": torch.tensor([-7], dtype=torch.int8),
    "u8": torch.tensor([255, 0], dtype=torch.uint8),
    "bool": torch.tensor([True, False, True]),
    "empty": torch.zeros(0, 4),
    "t": torch.arange(6.0).reshape(2, 3).t().contiguous(),
}
out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
save_file(ref, os.path.join(out_dir, "hf_ref.safetensors"),
          metadata={"format": "pt", "writer": "safetensors " + safetensors.__version__})

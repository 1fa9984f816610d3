// Physical surgery: the only code that changes shapes. (weights, config, mask set) -> smaller
// weights + config, driven entirely by the model's sublayer list: for every sublayer it keeps the
// tensor slices of the kept units (query heads, neurons, per-head memory) and of the K/V groups
// that still serve a kept head, and removes a sublayer left with no units (its slices, output
// bias and `whole` tensors). Real-valued mask entries are folded into the output projection as
// per-unit scales, so the pruned graph is plain. No per-architecture code lives here.
#pragma once
#include <vector>

#include "model/model.h"

namespace hp {

struct SurgeryResult {
  ModelConfig config;
  TensorMap tensors;
  // Per sublayer of the input model: indices (input numbering) of the units / groups kept.
  std::vector<std::vector<int64_t>> kept_units, kept_groups;
  // Zero units appended per sublayer to reach the FFN alignment (0 when none).
  std::vector<int64_t> padded_units;
};

// `masks`: zero entries are removed; non-zero entries scale their unit's output (1 = unchanged).
// Undefined entries keep everything. `updates` (e.g. a method's tuned weights) replace model
// tensors of the same name and shape before cutting. The model itself is not modified.
// `ffn_align` > 1 pads each pruned FFN with zero neurons (zero up/gate rows and biases, zero
// down-projection columns: the output is unchanged) up to a multiple of `ffn_align`, capped at
// the sublayer's original width. GPU GEMMs whose inner/outer size is not a multiple of 8 fall off
// the tensor-core fast path (bf16 on an H100: 2.5-5x lower throughput, bench/gemm_shapes.cc).
SurgeryResult prune_model(const Model& model, const MaskSet& masks, int ffn_align = 1,
                          const TensorMap& updates = {});

}  // namespace hp

// Physical surgery: the only code that changes shapes. (weights, config, mask set) -> smaller
// weights + config. Removes attention heads (their Q/K/V rows and output-projection columns; in
// grouped-query layers whole K/V groups once no query head uses them), FFN neurons (rows of the
// up/gate projections, columns of the down projection) and whole sublayers left with no units.
// Real-valued mask entries are folded into the output projections as per-unit scales, so the
// pruned graph is plain. Written against Model::names(), so every architecture reuses it.
#pragma once
#include <vector>

#include "model/model.h"

namespace hp {

struct SurgeryResult {
  ModelConfig config;
  TensorMap tensors;
  // Indices (in the input model's numbering) of the heads / neurons kept, per layer.
  std::vector<std::vector<int>> kept_heads, kept_neurons;
  // Zero neurons appended per layer to reach the FFN alignment (0 when none).
  std::vector<int> padded_neurons;
};

// `masks`: zero entries are removed; non-zero entries scale their unit's output (1 = unchanged).
// Undefined per-layer masks keep everything. The model itself is not modified.
// `ffn_align` > 1 pads each pruned FFN with zero neurons (zero up/gate rows and biases, zero
// down-projection columns: the output is unchanged) up to a multiple of `ffn_align`, capped at
// the layer's original width. GPU GEMMs whose inner/outer size is not a multiple of 8 fall off
// the tensor-core fast path (bf16 on an H100: 2.5-5x lower throughput, bench/gemm_shapes.cc).
SurgeryResult prune_model(const Model& model, const MaskSet& masks, int ffn_align = 1);

}  // namespace hp

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
};

// `masks`: zero entries are removed; non-zero entries scale their unit's output (1 = unchanged).
// Undefined per-layer masks keep everything. The model itself is not modified.
SurgeryResult prune_model(const Model& model, const MaskSet& masks);

}  // namespace hp

// Mask sets: the one way pruning methods talk to models. Per layer, a real-valued head mask [n_head]
// and FFN-neuron mask [n_ff] (undefined tensor = all ones). Real values let gates and scores use
// the same interface; a sublayer whose mask is all zeros is skipped (only its residual path remains).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "model/config.h"

namespace hp {

struct LayerMask {
  torch::Tensor head;    // [n_head] or undefined
  torch::Tensor neuron;  // [n_ff] or undefined
};

struct MaskSet {
  std::vector<LayerMask> layers;

  // All-ones masks (float32, CPU) sized from the config.
  static MaskSet ones(const ModelConfig& cfg);
  // Same masks moved to a device / dtype.
  MaskSet to(const torch::Device& device, torch::Dtype dtype = torch::kFloat32) const;
  // Binary masks: 1 where value != 0.
  MaskSet binarized() const;
  int64_t kept_heads() const;    // number of non-zero head entries
  int64_t kept_neurons() const;  // number of non-zero neuron entries
  // Throws if the sizes do not match cfg.
  void check_against(const ModelConfig& cfg) const;
};

// True if the (optional) mask is defined and every entry is exactly zero.
bool mask_all_zero(const torch::Tensor& m);

}  // namespace hp

// Mask sets: the one way pruning methods talk to models. One real-valued tensor per sublayer of
// the model's sublayer list, [units(s)], or undefined (= all ones). Real values let gates and
// tuned scales use the same interface; a sublayer whose mask is all zeros is skipped (only its
// residual path remains), in the masked and in the physically pruned model alike.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "model/sublayer.h"

namespace hp {

struct MaskSet {
  std::vector<torch::Tensor> sub;  // per sublayer: [units] or undefined

  // One undefined (dense) entry per sublayer.
  static MaskSet dense(const std::vector<SublayerSpec>& specs);
  // All-ones masks (float32, CPU) sized from the sublayer list.
  static MaskSet ones(const std::vector<SublayerSpec>& specs);
  // All-zero masks: the starting point of budget fills.
  static MaskSet zeros(const std::vector<SublayerSpec>& specs);

  size_t size() const { return sub.size(); }
  const torch::Tensor& operator[](size_t s) const { return sub.at(s); }
  torch::Tensor& operator[](size_t s) { return sub.at(s); }

  // Same masks moved to a device / dtype.
  MaskSet to(const torch::Device& device, torch::Dtype dtype = torch::kFloat32) const;
  // Binary masks: 1 where value != 0.
  MaskSet binarized() const;
  // Entry-wise product (undefined = ones); both sized for the same sublayers.
  MaskSet times(const MaskSet& other) const;
  // Non-zero entries (undefined entries count as all units) over the sublayers of one kind
  // family: attention (query heads) or FFN (neurons).
  int64_t kept_heads(const std::vector<SublayerSpec>& specs) const;
  int64_t kept_neurons(const std::vector<SublayerSpec>& specs) const;
  // Non-zero entries of sublayer s (all of its units when undefined).
  int64_t kept(const std::vector<SublayerSpec>& specs, size_t s) const;
  // Throws if the number of sublayers or any size does not match.
  void check_against(const std::vector<SublayerSpec>& specs) const;
};

// True if the (optional) mask is defined and every entry is exactly zero.
bool mask_all_zero(const torch::Tensor& m);
// Indices of the non-zero entries of `m` ([n] or undefined = all n).
std::vector<int64_t> kept_indices(const torch::Tensor& m, int64_t n);

}  // namespace hp

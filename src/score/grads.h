// Gradients of a loss with respect to unit masks, the raw material of Fisher (Kwon et al.),
// Taylor (Michel et al.) and predictive-knowledge (Kprune) importance. Two exact routes, neither
// touching model code:
//  - mask route: the MaskSet's per-sublayer tensors are leaves with requires_grad, and autograd
//    gives dL/dm per unit directly;
//  - units route: the inputs of every output projection (recorded by a Recorder probe) are
//    differentiated, and the gradient of a per-dimension mask m_j on that input follows from
//    units' = m ⊙ units: dL/dm_j = Σ_tokens dL/du'_j · u'_j / m_j, i.e. Σ grad·units at m = 1.
//    Kprune masks each dimension of the attention output-projection input, which only this route
//    can express.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "model/model.h"
#include "score/calib.h"

namespace hp {

// One tensor per sublayer: [units] (double, CPU); empty for absent sublayers.
using UnitScores = std::vector<torch::Tensor>;

// All-ones masks (model dtype, device) whose entries require grad, starting from `base` values
// when given (zeros stay zeros and keep their sublayer skipped).
MaskSet grad_masks(const std::vector<SublayerSpec>& specs, torch::Device device, torch::Dtype dtype,
                   const MaskSet* base = nullptr);

// Mask route on one loss: dL/dm for every defined, non-empty mask tensor of `masks`.
UnitScores mask_grads(const torch::Tensor& loss, const MaskSet& masks);

// Units route on one loss: per sublayer dL/dm_j for a per-dimension mask on the input of its
// output projection ([units * unit_width]), for every sublayer whose units `rec` recorded
// (undefined where the sublayer did not run). Exact at m = 1; where a sublayer ran with a mask
// value m ≠ 0, 1 this is the derivative w.r.t. a further per-dimension factor applied on top.
UnitScores unit_dim_grads(const torch::Tensor& loss, const Recorder& rec);

// Per-batch mask-route gradients over a calibration set: loss_fn(logits, batch index) -> scalar.
// The model runs with `at` (ones when null). Used by Kwon (Fisher = Σ_b g_b²) and Michel
// (Σ_b |g_b|). progress_label empty = no progress bar.
using BatchLossFn = std::function<torch::Tensor(const torch::Tensor& logits, size_t batch)>;
std::vector<UnitScores> collect_mask_grads(Model& model, const CalibSet& calib,
                                           const BatchLossFn& loss_fn, const MaskSet* at,
                                           const std::string& progress_label);

// collect_mask_grads with the task's own loss on the calibration labels (Fisher / Taylor scores).
std::vector<UnitScores> collect_task_loss_grads(Model& model, const CalibSet& calib,
                                                const MaskSet* at,
                                                const std::string& progress_label);

// Σ_b f(g_b) per unit, f = square (Fisher) or abs (Taylor).
UnitScores sum_squares(const std::vector<UnitScores>& per_batch);
UnitScores sum_abs(const std::vector<UnitScores>& per_batch);

}  // namespace hp

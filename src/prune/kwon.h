// Kwon et al. 2022, "A Fast Post-Training Pruning Framework for Transformers": empirical-Fisher
// importance of head and neuron masks, a budget search over the number of heads, per-layer mask
// rearrangement against the block-diagonal Fisher, and least-squares mask tuning (per-unit output
// scales, folded into the weights by surgery). Params: calib_samples 2048, batch_size 32,
// rearrange 1, tune 1, damp 1, max_scale 10, teacher "dense" | "sqrt" (docs/methods.md).
#pragma once
#include <nlohmann/json.hpp>

#include "prune/method.h"
#include "score/calib.h"
#include "score/grads.h"

namespace hp {

PruneOutput prune_kwon(const PruneContext& ctx);

// The steps, exposed for tests and for methods that reuse them.

// Budget search: for every total head count h, the top-h attention units by importance plus as
// many top FFN neurons as the remaining FLOPs allow; keeps the h with the largest total importance
// (ties: more heads). FLOPs from Budget (Kwon's MACs ×2, same ratios; a GQA head at its amortized
// cost). Binary float masks on CPU, one per sublayer. Query heads inside K/V groups
// (selection_step > 1) are searched as bundles (method.h), so every group keeps the same number.
MaskSet kwon_search(const Budget& budget, const UnitScores& importance, double keep_flops,
                    nlohmann::json* info = nullptr);

// Greedy rearrangement of one sublayer's binary mask [n] given per-batch gradients [n_batches, n],
// as the reference: only the NUMBER of pruned units is taken from `mask`; starting from the
// lowest-Fisher units it swaps units in so that ||Σ_pruned g_b||² (the loss of the block-diagonal
// Fisher approximation) decreases. It improves on the lowest-Fisher set (which is what kwon's
// search produces per sublayer), not necessarily on an arbitrary input mask.
torch::Tensor kwon_rearrange(const torch::Tensor& mask, const torch::Tensor& grads);

struct KwonTuneOptions {
  double damp = 1.0;        // LSMR damping of the reference
  double max_scale = 10.0;  // stop tuning (this and later sublayers) when |scale| exceeds this
  bool skip_first_attn = true;     // the reference never tunes the bottom attention sublayer
  bool cls_only_last_ffn = true;   // the top sublayer fits only the tokens the head reads
};
// Layer-wise least squares for per-unit scales: the student's (masked) sublayer output is fitted
// to the teacher's pre-LayerNorm sum, bottom-up, each step on the student's own (already tuned)
// inputs. teacher == nullptr: the dense model. Returns the student masks with scales applied.
// Attention sublayers with post-LN also fit a constant shift (the LayerNorm removes it), as the
// reference does; other norm placements cannot absorb one, so none is fitted there.
MaskSet kwon_tune_masks(Model& model, const CalibSet& calib, const MaskSet* teacher,
                        const MaskSet& student, const KwonTuneOptions& opt,
                        nlohmann::json* info = nullptr, bool progress = false);

}  // namespace hp

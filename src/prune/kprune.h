// Kprune (Park et al., ICLR 2024, "Accurate Retraining-free Pruning for Pretrained Encoder-based
// Language Models"): bottom-up over the model's sublayers, measure the knowledge (score/knowledge.h)
// of the current student's units in the current and all higher sublayers, prune the current
// sublayer's units below a global threshold that lets the pooled survivors fit the remaining FLOPs
// budget, and re-fit the current sublayer's output projection by least squares so that its
// output (before the residual's norm) reproduces the dense model's. Params: lambda_pred 1,
// lambda_rep 2.5e-4, mu 64, temperature 2, tune 1, batch_size 32 (docs/methods.md).
//
// Kprune changes weights: the tuned output projections are returned in PruneOutput::weights
// (ctx.model is never written).
#pragma once
#include <nlohmann/json.hpp>

#include "prune/method.h"
#include "score/calib.h"

namespace hp {

PruneOutput prune_kprune(const PruneContext& ctx);

// The steps, exposed for tests.

// Mask search at sublayer s: pools the scores of sublayer s and all higher sublayers, finds the
// smallest threshold τ (-inf included) such that the pooled units with score > τ cost at most
// `remaining` FLOPs (each unit at Budget::amortized_cost), and returns sublayer s's keep mask
// (score > τ) as a float 0/1 tensor. Scores: one tensor per sublayer. Query heads inside K/V
// groups (selection_step > 1) enter the pool as bundles (method.h, group_bundles) at their exact
// marginal cost, so sublayer s keeps the same number of heads in every group.
torch::Tensor kprune_search_step(const Budget& budget, int s, const std::vector<torch::Tensor>& scores,
                                 double remaining);

struct KpruneTuneResult {
  bool solved = false;
  double err_before = 0, err_after = 0;  // Σ over real tokens of ||target - W x||²
  int64_t rows = 0;
};
// Weight tuning of sublayer s: W_out[:, kept] = lstsq(X^T X, X^T (Y_dense - x_res - b)) over the
// real tokens, X = the student's kept unit activations on its own residual stream `stream`,
// Y_dense = the teacher's output plus residual on the teacher stream. The teacher sublayer is run
// with `student`'s own (still untouched) weights at s and no mask, so call this before s changes;
// it advances `teacher` past s. `stream` (the student's) is left at s. Bias unchanged. Writes
// the solution into `student` (the method's own copy).
KpruneTuneResult kprune_tune_sublayer(Model& student, const CalibSet& calib, int s,
                                      const MaskSet& masks, StreamCache& teacher,
                                      const StreamCache& stream);

}  // namespace hp

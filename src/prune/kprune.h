// Kprune (Park et al., ICLR 2024, "Accurate Retraining-free Pruning for Pretrained Encoder-based
// Language Models"): bottom-up over the 2L sublayers, measure the knowledge (score/knowledge.h) of
// the current student's units in the current and all higher sublayers, prune the current
// sublayer's units below a global threshold that lets the pooled survivors fit the remaining FLOPs
// budget, and re-fit the current sublayer's output projection by least squares so that its
// pre-LayerNorm output reproduces the dense model's. Params (ctx.params): lambda_pred 1,
// lambda_rep 2.5e-4, mu 64, temperature 2, tune 1, batch_size 32.
//
// Unlike mask-only methods, Kprune changes weights: the tuned output projections are written back
// into ctx.model (see prune_kprune).
#pragma once
#include <nlohmann/json.hpp>

#include "prune/method.h"
#include "score/calib.h"

namespace hp {

PruneOutput prune_kprune(PruneContext& ctx);

// The steps, exposed for tests.

// Mask search at sublayer s: pools the scores of sublayer s and all higher sublayers, finds the
// smallest threshold τ (-inf included) such that the pooled units with score > τ cost at most
// `remaining` FLOPs (heads fh, neurons fn each), and returns sublayer s's keep mask (score > τ) as
// a float 0/1 tensor. Scores: per layer [n_head] / [n_ff].
torch::Tensor kprune_search_step(const ModelConfig& cfg, int s,
                                 const std::vector<torch::Tensor>& head_scores,
                                 const std::vector<torch::Tensor>& neuron_scores, double fh,
                                 double fn, double remaining);

struct KpruneTuneResult {
  bool solved = false;
  double err_before = 0, err_after = 0;  // Σ over real tokens of ||target - W x||²
  int64_t rows = 0;
};
// Weight tuning of sublayer s: W_out[:, kept] = lstsq(X^T X, X^T (Y_dense - x_res - b)) over the
// real tokens, X = the student's kept unit activations on its own residual stream `stream`,
// Y_dense = the teacher's pre-LayerNorm sum on the teacher stream. The teacher sublayer is run
// with `student`'s own (still untouched) weights at s and no mask, so call this before s changes;
// it advances `teacher` past s. `stream` (the student's) is left at s. Bias unchanged.
KpruneTuneResult kprune_tune_sublayer(Model& student, const CalibSet& calib, int s,
                                      const MaskSet& masks, StreamCache& teacher,
                                      const StreamCache& stream);

}  // namespace hp

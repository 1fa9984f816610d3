// Gate-trained head pruning methods (registered with MethodInfo::trains = true). Each trains a
// copy of the model jointly with one gate per head of every attention sublayer (gates/gate_train.h)
// on the full training file ctx.data_path (or, when absent, ctx.calib) and returns head masks and
// the trained weights; docs/gates.md gives the equations, defaults, the --param names and how the
// published step schedules map to short runs.
//   voita        Voita et al. 2019: Hard Concrete gates + expected-L0 penalty (lambda = --l0)
//   pass         PASS: almost-sure sparsity loss, lambda schedule, clip & reopen; exactly K heads
//   passconc     PASS + concentrator loss (empties whole attention layers)
//   dsp          differentiable subset pruning: Gumbel soft top-K, annealed temperature; exactly K
//   ste          straight-through top-K of the gate logits; exactly K
//   l0-layerwise Shim et al. 2021: Hard Concrete, straight-through hard gate at 0.5, warmed-up L0
//                penalty, per-layer attention output scaling (folded into the mask values)
#pragma once
#include "gates/gate_train.h"
#include "gates/hard_concrete.h"
#include "prune/method.h"

namespace hp {

PruneOutput prune_voita(const PruneContext& ctx);
PruneOutput prune_pass(const PruneContext& ctx);
PruneOutput prune_passconc(const PruneContext& ctx);
PruneOutput prune_dsp(const PruneContext& ctx);
PruneOutput prune_ste(const PruneContext& ctx);
PruneOutput prune_l0_layerwise(const PruneContext& ctx);

// Final masks of the exact-K methods and the ranking used by all: the K largest values of
// `scores` ([layout.total]) as a binary head mask set (ties to the lower flat index).
MaskSet topk_head_masks(const GateLayout& layout, const torch::Tensor& scores, int64_t k);

// Voita final masks: keep_heads > 0 -> binary top-K of log_alpha; otherwise heads whose
// deterministic gate exceeds `threshold`, with the gate value itself as the mask value when `fold`.
MaskSet voita_final_masks(const GateLayout& layout, const HardConcrete& hc, const torch::Tensor& log_alpha,
                          double threshold, bool fold, int64_t keep_heads);
// l0-layerwise final masks: hard gate (deterministic gate > 0.5, or top-K when keep_heads > 0)
// times, when `scaling`, the module's output scale clamp(H / (H - n_closed + 1e-3), 1, H).
MaskSet l0_layerwise_final_masks(const GateLayout& layout, const HardConcrete& hc, const torch::Tensor& log_alpha,
                                 bool scaling, int64_t keep_heads);

}  // namespace hp

// Structured Wanda ("Wanda-sp", the structured baseline of An et al. 2024 built on Sun et al.
// 2023's |W|·‖x‖ importance): a unit scores Σ over its output-projection input channels c of
// mean_i |W_out[i, c]|·‖x_c‖₂, optionally plus its input-projection rows; every sublayer keeps the
// same fraction of its own FLOPs. docs/methods.md gives the defaults and the differences from the
// reference code.
#pragma once
#include "prune/method.h"
#include "score/act_stats.h"

namespace hp {

// Scores of sublayer s's units ([units], float64, CPU) from the moments of its output-projection
// input (`units`) and, when `input` is given, of the stream its input projections read (the
// residual stream entering the sublayer; only valid for post-norm sublayers).
torch::Tensor wanda_sp_scores(const Model& model, int s, const ChannelMoments& units,
                              const ChannelMoments* input = nullptr);

PruneOutput prune_wanda_sp(const PruneContext& ctx);

}  // namespace hp

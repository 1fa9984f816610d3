// Michel et al. 2019, "Are Sixteen Heads Really Better than One?": first-order (Taylor) importance
// of each unit, I_u = Σ_batches |∂L/∂ξ_u| / tokens of the task loss w.r.t. the unit's mask ξ_u (HF
// bertology's head_importance), applied to FFN neurons in the same way; pruning is iterative:
// each round removes the least important units worth `step` of the prunable FLOPs (heads
// competing with heads, neurons with neurons) and re-scores, until the budget is met (michel.cc
// says how this differs from the paper). Params: batch_size 32, normalize 0, step 0.1.
#pragma once
#include "prune/method.h"

namespace hp {
PruneOutput prune_michel(const PruneContext& ctx);
}  // namespace hp

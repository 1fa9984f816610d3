// Michel et al. 2019, "Are Sixteen Heads Really Better than One?": first-order (Taylor) importance
// of each head, I_h = Σ_batches |∂L/∂ξ_h| of the task loss w.r.t. the head's mask ξ_h (HF
// bertology's head_importance), applied to FFN neurons in the same way, normalised to unit L2 norm
// per layer and kind, then kept best-per-FLOP under the budget (one shot; see michel.cc).
// Params (ctx.params): batch_size 32, normalize 1.
#pragma once
#include "prune/method.h"

namespace hp {
PruneOutput prune_michel(PruneContext& ctx);
}  // namespace hp

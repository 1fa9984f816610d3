// Data-free baselines: random and weight-magnitude importance, each under the shared FLOPs budget.
#pragma once
#include "prune/method.h"

namespace hp {
PruneOutput prune_random(const PruneContext& ctx);
PruneOutput prune_magnitude(const PruneContext& ctx);
}  // namespace hp

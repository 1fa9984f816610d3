// Baseline pruning methods that need no calibration data.
#pragma once
#include "prune/method.h"

namespace hp {
PruneOutput prune_random(PruneContext& ctx);
PruneOutput prune_magnitude(PruneContext& ctx);
}  // namespace hp

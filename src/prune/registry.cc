// Pruning-method registry: one line per method.
#include "prune/baselines.h"
#include "prune/kprune.h"
#include "prune/kwon.h"
#include "prune/michel.h"
#include "prune/method.h"

namespace hp {

const std::map<std::string, MethodInfo>& prune_methods() {
  static const std::map<std::string, MethodInfo> table = {
      {"random", {prune_random, false, "random units under the FLOPs budget"}},
      {"magnitude", {prune_magnitude, false, "weight-norm importance of heads and neurons"}},
      {"kwon", {prune_kwon, true, "Kwon et al. 2022: Fisher search, mask rearrangement, LSQ mask tuning"}},
      {"kprune", {prune_kprune, true, "Kprune: knowledge-preserving sublayer-wise pruning + weight tuning"}},
      {"michel", {prune_michel, true, "Michel et al. 2019: |dL/dmask| importance, one shot under the budget"}},
  };
  return table;
}

}  // namespace hp

// Pruning-method registry: one line per method.
#include "prune/baselines.h"
#include "prune/method.h"

namespace hp {

const std::map<std::string, MethodInfo>& prune_methods() {
  static const std::map<std::string, MethodInfo> table = {
      {"random", {prune_random, false, "random units under the FLOPs budget"}},
      {"magnitude", {prune_magnitude, false, "weight-norm importance of heads and neurons"}},
  };
  return table;
}

}  // namespace hp

// Pruning-method registry: one line per method.
#include "prune/gate_methods.h"
#include "prune/baselines.h"
#include "prune/depth.h"
#include "prune/flap.h"
#include "prune/kprune.h"
#include "prune/kwon.h"
#include "prune/michel.h"
#include "prune/wanda_sp.h"
#include "prune/method.h"

namespace hp {

const std::map<std::string, MethodInfo>& prune_methods() {
  static const std::map<std::string, MethodInfo> table = {
      {"random", {prune_random, false, "random units under the FLOPs budget"}},
      {"magnitude", {prune_magnitude, false, "weight-norm importance of heads and neurons"}},
      {"kwon", {prune_kwon, true, "Kwon et al. 2022: Fisher search, mask rearrangement, LSQ mask tuning"}},
      {"kprune", {prune_kprune, true, "Kprune: knowledge-preserving sublayer-wise pruning + weight tuning"}},
      {"michel", {prune_michel, true, "Michel et al. 2019: |dL/dmask| importance, iterative 10% steps to the budget"}},
      {"flap", {prune_flap, true, "FLAP (An et al. 2024): fluctuation metric, per-sublayer z-scores ranked globally, bias compensation", false, flap_needs_output_biases}},
      {"wanda-sp", {prune_wanda_sp, true, "structured Wanda: |W_out|*||x|| per unit, same FLOPs fraction in every sublayer"}},
      {"depth", {prune_depth, true, "ShortGPT/SLEB depth pruning: remove whole sublayers (or layers) of lowest block influence"}},
      // Gate-trained (src/gates/, docs/gates.md): train the model jointly with per-head gates.
      {"voita", {prune_voita, true, "Voita et al. 2019: Hard Concrete head gates + L0 penalty (--l0)", true}},
      {"pass", {prune_pass, true, "PASS: almost-sure sparsity loss, clip & reopen, exactly --keep-heads", true}},
      {"passconc", {prune_passconc, true, "PASS + concentrator loss (empties attention layers), exactly --keep-heads", true}},
      {"dsp", {prune_dsp, true, "differentiable subset pruning: Gumbel soft top-K, annealed tau, exactly --keep-heads", true}},
      {"ste", {prune_ste, true, "straight-through top-K of gate logits, exactly --keep-heads", true}},
      {"l0-layerwise", {prune_l0_layerwise, true, "Shim et al. 2021: Hard Concrete STE gates, warmed-up L0, output scaling", true}},
  };
  return table;
}

}  // namespace hp

// Data-free baselines: random order and weight-magnitude importance, each filled into the shared
// FLOPs budget (with --uniform: the same number of units in every sublayer of a family, the best
// by the same scores). Neither needs to know the architecture: a unit's weights are the slices its
// sublayer spec assigns to it.
#include "prune/baselines.h"

#include "core/check.h"

namespace hp {

PruneOutput prune_random(const PruneContext& ctx) {
  Params(ctx.params, "random").finish();
  const auto& specs = ctx.model.sublayers();
  auto gen = at::detail::createCPUGenerator(ctx.seed);
  std::vector<torch::Tensor> scores;
  for (const auto& sp : specs) scores.push_back(at::rand({sp.units}, gen, torch::kDouble));
  // Random scores are not divided by cost: a random order of units, then the budget fill.
  PruneOutput out;
  out.masks = keep_best_under_budget(Budget(specs, ctx.seq_len), scores, ctx.keep_flops, false,
                                     ctx.uniform);
  return out;
}

PruneOutput prune_magnitude(const PruneContext& ctx) {
  Params(ctx.params, "magnitude").finish();
  const auto& specs = ctx.model.sublayers();
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> scores;
  for (const auto& sp : specs) {
    if (sp.units == 0) {
      scores.push_back(torch::zeros({0}, torch::kDouble));
      continue;
    }
    // L2 norm of the weight matrices a unit owns (its Q rows and output-projection columns; FFN
    // up/gate rows and down columns). Biases and shared K/V groups are left out.
    torch::Tensor sq = torch::zeros({sp.units}, torch::kDouble);
    for (const auto& sl : sp.unit_slices) {
      auto w = ctx.model.param(sl.tensor).detach();
      if (w.dim() < 2) continue;
      w = w.narrow(sl.axis, sl.offset, sp.units * sl.block).to(torch::kCPU, torch::kDouble);
      w = w.movedim(sl.axis, 0).reshape({sp.units, -1});  // [units, block * rest]
      sq = sq + w.pow(2).sum(1);
    }
    scores.push_back(sq.sqrt());
  }
  // Heads and neurons have different sizes: normalise each family by its mean, so neither wins
  // only because of its parameter count.
  for (int fam = 0; fam < 2; ++fam) {
    double s = 0, n = 0;
    for (size_t i = 0; i < specs.size(); ++i)
      if (is_attention(specs[i].kind) == (fam == 0)) s += scores[i].sum().item<double>(), n += scores[i].numel();
    if (s > 0)
      for (size_t i = 0; i < specs.size(); ++i)
        if (is_attention(specs[i].kind) == (fam == 0)) scores[i] = scores[i] / (s / n);
  }
  PruneOutput out;
  out.masks = keep_best_under_budget(Budget(specs, ctx.seq_len), scores, ctx.keep_flops, false,
                                     ctx.uniform);
  return out;
}

}  // namespace hp

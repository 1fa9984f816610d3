#include <algorithm>
#include <numeric>

#include "core/check.h"
#include "prune/method.h"

namespace hp {

namespace {

struct Candidate {
  double key;
  int s;
  int64_t u;
};

// Greedy fill over the candidates (already in rank order) with exact GQA accounting.
MaskSet fill(const Budget& budget, const std::vector<Candidate>& ranked, double limit) {
  const auto& specs = budget.sublayers();
  MaskSet m = MaskSet::zeros(specs);
  std::vector<std::vector<bool>> group_used(specs.size());
  for (size_t s = 0; s < specs.size(); ++s) group_used[s].assign(specs[s].groups, false);
  double used = 0;
  for (const auto& c : ranked) {
    const auto& sp = specs[c.s];
    const bool new_group = is_attention(sp.kind) && !group_used[c.s][sp.group_of(c.u)];
    const double cost = budget.unit_cost(c.s) + (new_group ? budget.group_cost(c.s) : 0.0);
    if (used + cost > limit) continue;  // smaller units further down may still fit
    used += cost;
    if (new_group) group_used[c.s][sp.group_of(c.u)] = true;
    m.sub[c.s][c.u] = 1;
  }
  return m;
}

std::vector<Candidate> rank(const Budget& budget, const std::vector<torch::Tensor>& scores,
                            bool per_flop, int family /* -1 all, 0 attention, 1 FFN */) {
  const auto& specs = budget.sublayers();
  HP_CHECK(scores.size() == specs.size(), "budget: ", scores.size(), " score tensors for ",
           specs.size(), " sublayers");
  std::vector<Candidate> units;
  for (size_t s = 0; s < specs.size(); ++s) {
    const auto& sp = specs[s];
    if (family >= 0 && is_attention(sp.kind) != (family == 0)) continue;
    if (sp.units == 0) continue;
    auto sc = scores[s].to(torch::kCPU, torch::kDouble).contiguous();
    HP_CHECK(sc.numel() == sp.units, "budget: sublayer ", s, " (", sp.name(), ") has ", sp.units,
             " units but ", sc.numel(), " scores");
    const double cost = per_flop ? budget.amortized_cost(static_cast<int>(s)) : 1.0;
    for (int64_t u = 0; u < sp.units; ++u)
      units.push_back({sc.data_ptr<double>()[u] / cost, static_cast<int>(s), u});
  }
  std::stable_sort(units.begin(), units.end(),
                   [](const Candidate& a, const Candidate& b) { return a.key > b.key; });
  return units;
}

}  // namespace

MaskSet keep_best_under_budget(const Budget& budget, const std::vector<torch::Tensor>& scores,
                               double keep_flops, bool per_flop) {
  const double limit = budget.target(keep_flops);
  return fill(budget, rank(budget, scores, per_flop, -1), limit);
}

MaskSet keep_best_per_family_under_budget(const Budget& budget,
                                          const std::vector<torch::Tensor>& scores,
                                          double keep_flops) {
  check_keep_flops(keep_flops);
  const auto& specs = budget.sublayers();
  const auto per = budget.per_sublayer();
  double fam_flops[2] = {0, 0};
  for (size_t s = 0; s < specs.size(); ++s) fam_flops[is_attention(specs[s].kind) ? 0 : 1] += per[s];
  const double total = budget.total();
  MaskSet out = MaskSet::zeros(specs);
  for (int fam = 0; fam < 2; ++fam) {
    const double frac = std::max(1e-12, keep_flops * fam_flops[fam] / total);
    MaskSet m = fill(budget, rank(budget, scores, false, fam), frac * total * (1 + kBudgetSlack));
    for (size_t s = 0; s < specs.size(); ++s)
      if (is_attention(specs[s].kind) == (fam == 0)) out.sub[s] = m.sub[s];
  }
  return out;
}

}  // namespace hp

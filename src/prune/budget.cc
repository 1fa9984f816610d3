#include <algorithm>
#include <numeric>

#include "core/check.h"
#include "prune/method.h"

namespace hp {

namespace {

struct Candidate {
  double key;
  int s;
  int64_t u;  // the unit, or the bundle rank r in a sublayer of query heads inside groups
};

struct Ranked {
  std::vector<Candidate> items;          // in rank order
  std::vector<GroupBundles> bundles;     // per sublayer; empty unless selection_step > 1
};

// Greedy fill over the candidates (already in rank order) with exact GQA accounting.
MaskSet fill(const Budget& budget, const Ranked& ranked, double limit) {
  const auto& specs = budget.sublayers();
  MaskSet m = MaskSet::zeros(specs);
  std::vector<std::vector<bool>> group_used(specs.size());
  for (size_t s = 0; s < specs.size(); ++s) group_used[s].assign(specs[s].groups, false);
  double used = 0;
  for (const auto& c : ranked.items) {
    const auto& sp = specs[c.s];
    if (!ranked.bundles[c.s].members.empty()) {
      // A bundle: one query head of every group, taken or left together.
      const auto& members = ranked.bundles[c.s].members[c.u];
      int64_t new_groups = 0;
      for (int64_t u : members) new_groups += group_used[c.s][sp.group_of(u)] ? 0 : 1;
      const double cost = static_cast<double>(members.size()) * budget.unit_cost(c.s) +
                          static_cast<double>(new_groups) * budget.group_cost(c.s);
      if (used + cost > limit) continue;
      used += cost;
      for (int64_t u : members) {
        group_used[c.s][sp.group_of(u)] = true;
        m.sub[c.s][u] = 1;
      }
      continue;
    }
    const bool new_group = is_attention(sp.kind) && !group_used[c.s][sp.group_of(c.u)];
    const double cost = budget.unit_cost(c.s) + (new_group ? budget.group_cost(c.s) : 0.0);
    if (used + cost > limit) continue;  // smaller units further down may still fit
    used += cost;
    if (new_group) group_used[c.s][sp.group_of(c.u)] = true;
    m.sub[c.s][c.u] = 1;
  }
  return m;
}

Ranked rank(const Budget& budget, const std::vector<torch::Tensor>& scores, bool per_flop,
            int family /* -1 all, 0 attention, 1 FFN */) {
  const auto& specs = budget.sublayers();
  HP_CHECK(scores.size() == specs.size(), "budget: ", scores.size(), " score tensors for ",
           specs.size(), " sublayers");
  Ranked out;
  out.bundles.resize(specs.size());
  auto& units = out.items;
  for (size_t s = 0; s < specs.size(); ++s) {
    const auto& sp = specs[s];
    if (family >= 0 && is_attention(sp.kind) != (family == 0)) continue;
    if (sp.units == 0) continue;
    auto sc = scores[s].to(torch::kCPU, torch::kDouble).contiguous();
    HP_CHECK(sc.numel() == sp.units, "budget: sublayer ", s, " (", sp.name(), ") has ", sp.units,
             " units but ", sc.numel(), " scores");
    const double cost = per_flop ? budget.amortized_cost(static_cast<int>(s)) : 1.0;
    if (selection_step(sp) > 1) {
      out.bundles[s] = group_bundles(sp, sc);
      for (size_t r = 0; r < out.bundles[s].mean.size(); ++r)
        units.push_back({out.bundles[s].mean[r] / cost, static_cast<int>(s), static_cast<int64_t>(r)});
      continue;
    }
    for (int64_t u = 0; u < sp.units; ++u)
      units.push_back({sc.data_ptr<double>()[u] / cost, static_cast<int>(s), u});
  }
  std::stable_sort(units.begin(), units.end(),
                   [](const Candidate& a, const Candidate& b) { return a.key > b.key; });
  return out;
}

std::vector<int64_t> stable_order(const double* v, int64_t begin, int64_t n) {
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), begin);
  std::stable_sort(idx.begin(), idx.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
  return idx;
}

}  // namespace

int64_t selection_step(const SublayerSpec& sp) {
  return is_attention(sp.kind) && sp.groups > 0 && sp.group_size() > 1 ? sp.groups : 1;
}

GroupBundles group_bundles(const SublayerSpec& sp, const torch::Tensor& score) {
  HP_CHECK(selection_step(sp) > 1, "budget: ", sp.name(), " has no query heads inside K/V groups");
  auto sc = score.to(torch::kCPU, torch::kDouble).contiguous();
  HP_CHECK(sc.numel() == sp.units, "budget: ", sp.name(), " has ", sp.units, " units but ",
           sc.numel(), " scores");
  const double* v = sc.data_ptr<double>();
  const int64_t G = sp.groups, gs = sp.group_size();
  GroupBundles b;
  b.members.assign(gs, {});
  b.mean.assign(gs, 0.0);
  b.sum.assign(gs, 0.0);
  for (int64_t g = 0; g < G; ++g) {
    const auto order = stable_order(v, g * gs, gs);
    for (int64_t r = 0; r < gs; ++r) {
      b.members[r].push_back(order[r]);
      b.sum[r] += v[order[r]];
    }
  }
  for (int64_t r = 0; r < gs; ++r) b.mean[r] = b.sum[r] / static_cast<double>(G);
  return b;
}

MaskSet keep_best_under_budget(const Budget& budget, const std::vector<torch::Tensor>& scores,
                               double keep_flops, bool per_flop, bool uniform) {
  const double limit = budget.target(keep_flops);
  if (uniform) return keep_top_k_per_sublayer(budget, scores, uniform_counts(budget, keep_flops));
  return fill(budget, rank(budget, scores, per_flop, -1), limit);
}

MaskSet keep_best_per_family_under_budget(const Budget& budget,
                                          const std::vector<torch::Tensor>& scores,
                                          double keep_flops, bool uniform) {
  check_keep_flops(keep_flops);
  if (uniform) return keep_top_k_per_sublayer(budget, scores, uniform_counts(budget, keep_flops));
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

double selected_cost(const Budget& budget, int s, int64_t count) {
  const auto& sp = budget.sublayers().at(s);
  HP_CHECK(count >= 0 && count <= sp.units, "budget: ", count, " units of ", sp.name(), ", which has ",
           sp.units);
  if (!is_attention(sp.kind)) return budget.sublayer_cost(s, count, 0);
  const int64_t step = selection_step(sp);
  HP_CHECK(count % step == 0, "budget: ", count, " query heads of ", sp.name(),
           " cannot be kept in equal numbers in its ", step, " K/V groups");
  // Query heads inside groups keep every group while any head is kept; otherwise every unit
  // is its own group (a whole K/V group, or one head without grouped-query attention).
  const int64_t groups = step > 1 ? (count > 0 ? sp.groups : 0) : count;
  return budget.sublayer_cost(s, count, groups);
}

std::vector<int64_t> uniform_counts(const Budget& budget, double keep_flops) {
  const double limit = budget.target(keep_flops);  // validates keep_flops
  const auto& specs = budget.sublayers();
  const auto per = budget.per_sublayer();
  struct Family {
    std::vector<int> subs;  // live sublayers
    int64_t level = 0, max_level = 0;
    double flops = 0;       // FLOPs of the family as the model is now
  };
  Family fam[2];
  for (size_t s = 0; s < specs.size(); ++s) {
    if (!specs[s].present()) continue;
    Family& f = fam[is_attention(specs[s].kind) ? 0 : 1];
    const int64_t levels = specs[s].units / selection_step(specs[s]);
    f.max_level = f.subs.empty() ? levels : std::min(f.max_level, levels);
    f.subs.push_back(static_cast<int>(s));
    f.flops += per[s];
  }
  auto cost = [&](const Family& f, int64_t level) {
    double c = 0;
    for (int s : f.subs) c += selected_cost(budget, s, level * selection_step(specs[s]));
    return c;
  };
  // Each family within keep_flops of its own FLOPs ...
  for (auto& f : fam) {
    const double share = keep_flops * f.flops * (1 + kBudgetSlack);
    while (f.level < f.max_level && cost(f, f.level + 1) <= share) ++f.level;
  }
  // ... then the leftover, one level at a time, to the family with the smaller kept fraction
  // whose next level still fits.
  for (;;) {
    int pick = -1;
    double pick_frac = 0;
    for (int i = 0; i < 2; ++i) {
      const Family& f = fam[i];
      if (f.level >= f.max_level) continue;
      const Family& o = fam[1 - i];
      if (cost(f, f.level + 1) + cost(o, o.level) > limit) continue;
      const double frac = cost(f, f.level) / f.flops;
      if (pick < 0 || frac < pick_frac) pick = i, pick_frac = frac;
    }
    if (pick < 0) break;
    ++fam[pick].level;
  }
  std::vector<int64_t> counts(specs.size(), 0);
  for (const auto& f : fam)
    for (int s : f.subs) counts[s] = f.level * selection_step(specs[s]);
  return counts;
}

torch::Tensor keep_top_k(const SublayerSpec& sp, const torch::Tensor& score, int64_t count) {
  HP_CHECK(count >= 0 && count <= sp.units, "budget: cannot keep ", count, " units of ", sp.name(),
           ", which has ", sp.units);
  auto m = torch::zeros({sp.units}, torch::kFloat32);
  const int64_t step = selection_step(sp);
  HP_CHECK(count % step == 0, "budget: ", count, " query heads of ", sp.name(),
           " cannot be kept in equal numbers in its ", step, " K/V groups");
  if (count == 0) return m;
  auto sc = score.to(torch::kCPU, torch::kDouble).contiguous();
  HP_CHECK(sc.numel() == sp.units, "budget: ", sp.name(), " has ", sp.units, " units but ",
           sc.numel(), " scores");
  // Query heads inside groups: the best count/groups of every group; otherwise one group of all.
  const int64_t n = sp.units / step, per = count / step;
  auto acc = m.accessor<float, 1>();
  for (int64_t g = 0; g < step; ++g) {
    const auto order = stable_order(sc.data_ptr<double>(), g * n, n);
    for (int64_t i = 0; i < per; ++i) acc[order[i]] = 1;
  }
  return m;
}

MaskSet keep_top_k_per_sublayer(const Budget& budget, const std::vector<torch::Tensor>& scores,
                                const std::vector<int64_t>& counts) {
  const auto& specs = budget.sublayers();
  HP_CHECK(scores.size() == specs.size() && counts.size() == specs.size(), "budget: ",
           scores.size(), " score tensors and ", counts.size(), " counts for ", specs.size(),
           " sublayers");
  MaskSet m = MaskSet::zeros(specs);
  for (size_t s = 0; s < specs.size(); ++s)
    if (specs[s].units > 0) m.sub[s] = keep_top_k(specs[s], scores[s], counts[s]);
  return m;
}

}  // namespace hp

// Data-free baselines: random and weight-magnitude importance, each under the shared FLOPs budget.
#include "prune/baselines.h"

#include "core/check.h"

namespace hp {

PruneOutput prune_random(PruneContext& ctx) {
  const auto& cfg = ctx.model.config();
  auto gen = at::detail::createCPUGenerator(ctx.seed);
  std::vector<torch::Tensor> hs, ns;
  for (const auto& l : cfg.layers) {
    hs.push_back(at::rand({l.n_head}, gen, torch::kDouble));
    ns.push_back(at::rand({l.n_ff}, gen, torch::kDouble));
  }
  // Random scores are not divided by cost: a random order of units, then the budget fill.
  return {keep_best_under_budget(cfg, hs, ns, ctx.keep_flops, ctx.seq_len, false), {}};
}

PruneOutput prune_magnitude(PruneContext& ctx) {
  const auto& cfg = ctx.model.config();
  auto st = ctx.model.state();
  std::vector<torch::Tensor> hs, ns;
  torch::NoGradGuard ng;
  for (int il = 0; il < cfg.n_layer; ++il) {
    const auto& l = cfg.layers[il];
    auto nm = ctx.model.names(il);
    if (l.n_head > 0) {
      // L2 norm of everything a head owns: its Q rows and its output-projection columns.
      auto wq = st.at(nm.wq).to(torch::kCPU, torch::kDouble).view({l.n_head, -1});
      auto wo = st.at(nm.wo).to(torch::kCPU, torch::kDouble).t().reshape({l.n_head, -1});
      hs.push_back((wq.pow(2).sum(1) + wo.pow(2).sum(1)).sqrt());
    } else {
      hs.push_back(torch::zeros({0}, torch::kDouble));
    }
    if (l.n_ff > 0) {
      auto up = st.at(nm.w_up).to(torch::kCPU, torch::kDouble);         // [n_ff, d]
      auto down = st.at(nm.w_down).to(torch::kCPU, torch::kDouble).t();  // [n_ff, d]
      ns.push_back((up.pow(2).sum(1) + down.pow(2).sum(1)).sqrt());
    } else {
      ns.push_back(torch::zeros({0}, torch::kDouble));
    }
  }
  // Heads and neurons have different sizes: compare per FLOP and normalise each kind by its mean,
  // so neither kind wins only because of its parameter count.
  auto norm = [](std::vector<torch::Tensor>& v) {
    double s = 0, n = 0;
    for (auto& t : v) s += t.sum().item<double>(), n += t.numel();
    if (s > 0)
      for (auto& t : v) t = t / (s / n);
  };
  norm(hs);
  norm(ns);
  return {keep_best_under_budget(cfg, hs, ns, ctx.keep_flops, ctx.seq_len, false), {}};
}

}  // namespace hp

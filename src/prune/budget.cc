#include <algorithm>
#include <numeric>

#include "core/check.h"
#include "eval/flops.h"
#include "prune/method.h"

namespace hp {

MaskSet keep_best_under_budget(const ModelConfig& cfg, const std::vector<torch::Tensor>& head_scores,
                               const std::vector<torch::Tensor>& neuron_scores, double keep_flops,
                               double seq_len, bool per_flop) {
  HP_CHECK(keep_flops > 0 && keep_flops <= 1, "--keep-flops must be in (0, 1], got ", keep_flops);
  const double fh = flops_per_head(cfg, seq_len), fn = flops_per_neuron(cfg, seq_len);
  struct Unit { double key; double cost; int layer; bool head; int idx; };
  std::vector<Unit> units;
  for (int il = 0; il < cfg.n_layer; ++il) {
    auto hs = head_scores[il].to(torch::kCPU, torch::kDouble).contiguous();
    auto ns = neuron_scores[il].to(torch::kCPU, torch::kDouble).contiguous();
    for (int h = 0; h < cfg.layers[il].n_head; ++h)
      units.push_back({hs.data_ptr<double>()[h] / (per_flop ? fh : 1.0), fh, il, true, h});
    for (int j = 0; j < cfg.layers[il].n_ff; ++j)
      units.push_back({ns.data_ptr<double>()[j] / (per_flop ? fn : 1.0), fn, il, false, j});
  }
  std::stable_sort(units.begin(), units.end(), [](const Unit& a, const Unit& b) { return a.key > b.key; });
  double budget = keep_flops * count_flops(cfg, seq_len).total(), used = 0;
  MaskSet m = MaskSet::ones(cfg);
  for (auto& l : m.layers) l.head.zero_(), l.neuron.zero_();
  for (const auto& u : units) {
    if (used + u.cost > budget) continue;  // smaller units further down may still fit
    used += u.cost;
    (u.head ? m.layers[u.layer].head : m.layers[u.layer].neuron)[u.idx] = 1;
  }
  return m;
}

MaskSet keep_best_per_kind_under_budget(const ModelConfig& cfg, const std::vector<torch::Tensor>& head_scores,
                                        const std::vector<torch::Tensor>& neuron_scores,
                                        double keep_flops, double seq_len) {
  HP_CHECK(keep_flops > 0 && keep_flops <= 1, "--keep-flops must be in (0, 1], got ", keep_flops);
  // A kind whose scores are all -inf-like contributes nothing; scoring the other kind with
  // -1e30 everywhere makes keep_best_under_budget keep only the first kind within its share.
  MaskSet out = MaskSet::ones(cfg);
  const double fh = flops_per_head(cfg, seq_len), fn = flops_per_neuron(cfg, seq_len);
  const double head_flops = cfg.total_heads() * fh, neuron_flops = cfg.total_neurons() * fn;
  const double total = count_flops(cfg, seq_len).total();
  std::vector<torch::Tensor> none_h, none_n;
  for (int il = 0; il < cfg.n_layer; ++il) {
    none_h.push_back(torch::full({cfg.layers[il].n_head}, -1e30, torch::kDouble));
    none_n.push_back(torch::full({cfg.layers[il].n_ff}, -1e30, torch::kDouble));
  }
  auto heads = keep_best_under_budget(cfg, head_scores, none_n, std::max(1e-12, keep_flops * head_flops / total),
                                      seq_len, false);
  auto neurons = keep_best_under_budget(cfg, none_h, neuron_scores,
                                        std::max(1e-12, keep_flops * neuron_flops / total), seq_len, false);
  for (int il = 0; il < cfg.n_layer; ++il) {
    out.layers[il].head = heads.layers[il].head;
    out.layers[il].neuron = neurons.layers[il].neuron;
  }
  return out;
}

}  // namespace hp

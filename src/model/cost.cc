#include "model/cost.h"

#include "core/check.h"
#include "model/model.h"

namespace hp {

void check_keep_flops(double keep_flops) {
  HP_CHECK(keep_flops > 0 && keep_flops <= 1, "--keep-flops must be in (0, 1], got ", keep_flops);
}

Budget::Budget(std::vector<SublayerSpec> specs, double seq_len)
    : specs_(std::move(specs)), seq_len_(seq_len) {
  HP_CHECK(seq_len > 0, "FLOPs need a sequence length > 0, got ", seq_len);
}

Budget::Budget(const ModelConfig& cfg, double seq_len) : Budget(sublayers_of(cfg), seq_len) {}

double Budget::unit_cost(int s) const {
  const auto& sp = specs_.at(s);
  const double T = seq_len_, d = static_cast<double>(sp.d_model);
  if (sp.kind == SublayerKind::Ffn) return (sp.gated ? 6.0 : 4.0) * T * d;
  const double dh = static_cast<double>(sp.unit_width);
  const double S = T + static_cast<double>(sp.memory_slots);  // keys each query attends over
  return 4.0 * T * d * dh + 4.0 * T * S * dh;
}

double Budget::group_cost(int s) const {
  const auto& sp = specs_.at(s);
  if (sp.kind == SublayerKind::Ffn) return 0.0;
  return 4.0 * seq_len_ * static_cast<double>(sp.d_model) * static_cast<double>(sp.head_dim);
}

double Budget::amortized_cost(int s) const {
  const auto& sp = specs_.at(s);
  if (sp.kind == SublayerKind::Ffn) return unit_cost(s);
  return unit_cost(s) + group_cost(s) / static_cast<double>(sp.group_size());
}

double Budget::sublayer_cost(int s, int64_t units, int64_t groups) const {
  return static_cast<double>(units) * unit_cost(s) + static_cast<double>(groups) * group_cost(s);
}

double Budget::cost_of_sublayer(const MaskSet& masks, int s) const {
  const auto& sp = specs_.at(s);
  const auto keep = kept_indices(masks.sub.at(s), sp.units);
  if (sp.kind == SublayerKind::Ffn) return sublayer_cost(s, keep.size(), 0);
  std::vector<bool> used(sp.groups, false);
  int64_t groups = 0;
  for (int64_t u : keep) {
    const int64_t g = sp.group_of(u);
    if (!used[g]) used[g] = true, ++groups;
  }
  return sublayer_cost(s, keep.size(), groups);
}

double Budget::cost(const MaskSet& masks) const {
  masks.check_against(specs_);
  double c = 0;
  for (size_t s = 0; s < specs_.size(); ++s) c += cost_of_sublayer(masks, static_cast<int>(s));
  return c;
}

std::vector<double> Budget::per_sublayer() const {
  std::vector<double> v;
  for (size_t s = 0; s < specs_.size(); ++s)
    v.push_back(sublayer_cost(static_cast<int>(s), specs_[s].units, specs_[s].groups));
  return v;
}

double Budget::total() const {
  // Attention sublayers first, then FFN sublayers: a fixed summation order, the one the budgets
  // of earlier releases used, so the same model gives bit-identical budgets.
  const auto c = per_sublayer();
  double attn = 0, ffn = 0;
  for (size_t s = 0; s < c.size(); ++s) (is_attention(specs_[s].kind) ? attn : ffn) += c[s];
  return attn + ffn;
}

double Budget::target(double keep_flops) const {
  check_keep_flops(keep_flops);
  return keep_flops * total() * (1 + kBudgetSlack);
}

double dense_flops(const ModelConfig& cfg, double seq_len) {
  ModelConfig d = cfg;
  d.set_dense_layers();
  return Budget(d, seq_len).total();
}

}  // namespace hp

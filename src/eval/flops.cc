#include "eval/flops.h"

namespace hp {

static bool gated_ffn(const ModelConfig& cfg) { return cfg.act == "silu" || cfg.act == "swiglu"; }

double FlopsBreakdown::total() const {
  double t = 0;
  for (double a : attn) t += a;
  for (double f : ffn) t += f;
  return t;
}

double flops_per_query_head(const ModelConfig& cfg, double s) {
  return 4.0 * s * cfg.d_model * cfg.d_head + 4.0 * s * s * cfg.d_head;
}

double flops_per_kv_head(const ModelConfig& cfg, double s) {
  return 4.0 * s * cfg.d_model * cfg.d_head;
}

double flops_per_head(const ModelConfig& cfg, double s) {
  return flops_per_query_head(cfg, s) + flops_per_kv_head(cfg, s);
}

double flops_per_neuron(const ModelConfig& cfg, double s) {
  return (gated_ffn(cfg) ? 6.0 : 4.0) * s * cfg.d_model;
}

FlopsBreakdown count_flops(const ModelConfig& cfg, double s) {
  FlopsBreakdown b;
  for (const auto& l : cfg.layers) {
    b.attn.push_back(l.n_head * flops_per_query_head(cfg, s) + l.n_head_kv * flops_per_kv_head(cfg, s));
    b.ffn.push_back(l.n_ff * flops_per_neuron(cfg, s));
  }
  return b;
}

double dense_flops(const ModelConfig& cfg, double s) {
  ModelConfig d = cfg;
  d.set_dense_layers();
  return count_flops(d, s).total();
}

}  // namespace hp

// headprune info: what a model directory holds: architecture, per-layer widths, parameters, FLOPs.
#include "cli/commands.h"
#include "cli/options.h"
#include "model/cost.h"
#include "model/model_dir.h"

namespace hp {

int cmd_info(const Args& args) {
  Options o("info",
            "Per-layer shapes, parameter count and FLOPs of one forward pass of one sequence of\n"
            "length --seq-len (attention and FFN sublayers, 2 FLOPs per multiply-add; see docs/flops.md).");
  o.add("model", "", "model directory", true).add("seq-len", "128", "sequence length for FLOPs");
  add_common(o);
  if (!o.parse(args)) return 0;
  apply_common(o);
  auto lm = load_model_dir(o.str("model"), torch::kCPU, false);
  const auto& cfg = lm.model->config();
  double s = o.number("seq-len");
  nlohmann::json heads = nlohmann::json::array(), ffn = nlohmann::json::array();
  for (const auto& l : cfg.layers) heads.push_back(l.n_head), ffn.push_back(l.n_ff);
  int64_t params = 0;
  for (const auto& [k, v] : lm.model->state()) params += v.numel();
  const Budget budget(lm.model->sublayers(), s);
  const auto per = budget.per_sublayer();
  const double total = budget.total(), dense = dense_flops(cfg, s);
  nlohmann::json subs = nlohmann::json::array();
  for (const auto& sp : lm.model->sublayers())
    subs.push_back({{"index", sp.index}, {"kind", to_string(sp.kind)}, {"stack", to_string(sp.stack)},
                    {"layer", sp.layer}, {"units", sp.units}, {"groups", sp.groups},
                    {"norm", to_string(sp.norm)}, {"flops", per[sp.index]},
                    {"unit_flops", budget.unit_cost(sp.index)}, {"group_flops", budget.group_cost(sp.index)}});
  nlohmann::json j = {{"arch", cfg.arch},          {"task", cfg.task},
                      {"n_layer", cfg.n_layer},    {"d_model", cfg.d_model},
                      {"d_head", cfg.d_head},      {"heads_per_layer", heads},
                      {"ffn_per_layer", ffn},      {"params", params},
                      {"flops", total},            {"dense_flops", dense},
                      {"kept_flops_ratio", total / dense}, {"seq_len", s},
                      {"vocab_size", cfg.vocab_size}, {"sublayers", subs}};
  if (o.on("json")) {
    print_json(j);
    return 0;
  }
  std::printf("%s (%s): %d layers, d_model %d, d_head %d, vocab %d, %.2fM parameters\n",
              cfg.arch.c_str(), cfg.task.c_str(), cfg.n_layer, cfg.d_model, cfg.d_head,
              cfg.vocab_size, params / 1e6);
  std::printf("FLOPs at seq-len %g: %.4g (%.1f%% of dense %.4g)\n", s, total, 100 * total / dense, dense);
  std::printf("%4s  %-24s %6s %6s %8s %12s\n", "s", "sublayer", "units", "groups", "norm", "GFLOPs");
  for (const auto& sp : lm.model->sublayers())
    std::printf("%4d  %-24s %6lld %6lld %8s %12.4f\n", sp.index, sp.name().c_str(), (long long)sp.units,
                (long long)sp.groups, to_string(sp.norm), per[sp.index] / 1e9);
  return 0;
}

}  // namespace hp

// headprune info: what a model directory holds: architecture, per-layer widths, parameters, FLOPs.
#include "cli/commands.h"
#include "cli/options.h"
#include "eval/flops.h"
#include "io/model_dir.h"

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
  auto fl = count_flops(cfg, s);
  double dense = dense_flops(cfg, s);
  nlohmann::json j = {{"arch", cfg.arch},          {"task", cfg.task},
                      {"n_layer", cfg.n_layer},    {"d_model", cfg.d_model},
                      {"d_head", cfg.d_head},      {"heads_per_layer", heads},
                      {"ffn_per_layer", ffn},      {"params", params},
                      {"flops", fl.total()},       {"dense_flops", dense},
                      {"kept_flops_ratio", fl.total() / dense}, {"seq_len", s},
                      {"vocab_size", cfg.vocab_size}};
  if (o.on("json")) {
    print_json(j);
    return 0;
  }
  std::printf("%s (%s): %d layers, d_model %d, d_head %d, vocab %d, %.2fM parameters\n",
              cfg.arch.c_str(), cfg.task.c_str(), cfg.n_layer, cfg.d_model, cfg.d_head,
              cfg.vocab_size, params / 1e6);
  std::printf("FLOPs at seq-len %g: %.4g (%.1f%% of dense %.4g)\n", s, fl.total(),
              100 * fl.total() / dense, dense);
  std::printf("%6s %6s %8s %12s %12s\n", "layer", "heads", "ffn", "attn GFLOPs", "ffn GFLOPs");
  for (int il = 0; il < cfg.n_layer; ++il)
    std::printf("%6d %6d %8d %12.4f %12.4f\n", il, cfg.layers[il].n_head, cfg.layers[il].n_ff,
                fl.attn[il] / 1e9, fl.ffn[il] / 1e9);
  return 0;
}

}  // namespace hp

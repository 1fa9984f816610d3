// Michel et al. 2019 as in HF transformers' bertology example (compute_heads_importance): per batch
// the absolute mask gradient of the task loss, summed and divided by the calibration tokens, L2
// normalised per layer. Differences, deliberate:
//  - one shot: the paper's iterative variant (mask 10% of heads, re-score, stop when the metric
//    falls below 0.9x) needs a dev metric and prunes by count, not FLOPs; here the budget decides
//    and the scores are computed once on the dense model;
//  - neurons are scored the same way (the paper prunes heads only) so the FLOPs budget can be met
//    with both kinds; the global min-max rescaling of bertology is skipped (it does not change the
//    order within a kind, and the budget fill compares kinds per FLOP).
#include "prune/michel.h"

#include "core/check.h"
#include "core/log.h"
#include "score/calib.h"
#include "score/grads.h"

namespace hp {

PruneOutput prune_michel(PruneContext& ctx) {
  HP_CHECK(ctx.calib && ctx.tok, "michel needs calibration data and a tokenizer");
  Timer timer;
  const auto& cfg = ctx.model.config();
  const int batch = static_cast<int>(param_number(ctx.params, "batch_size", 32));
  const bool normalize = param_number(ctx.params, "normalize", 1) != 0;
  CalibSet calib = make_calib_set(*ctx.calib, *ctx.tok, ctx.device, batch, 0, ctx.seed);
  const std::string task = calib.task;
  auto grads = collect_mask_grads(
      ctx.model, calib,
      [&](const torch::Tensor& logits, size_t b) {
        return task_loss_of(task, logits, calib.batches[b]);
      },
      nullptr, ctx.progress ? "michel" : "");
  UnitGrads imp = sum_abs(grads);
  for (auto* kind : {&imp.head, &imp.neuron}) {
    for (auto& t : *kind) {
      t = t / static_cast<double>(calib.n_tokens);
      if (normalize && t.numel() > 0) t = t / (t.norm().item<double>() + 1e-20);
    }
  }
  MaskSet masks =
      keep_best_under_budget(cfg, imp.head, imp.neuron, ctx.keep_flops, ctx.seq_len, true);
  nlohmann::json info = {{"calib_samples", calib.n_seq},
                         {"calib_tokens", calib.n_tokens},
                         {"normalize", normalize},
                         {"seconds", timer.seconds()}};
  return {masks, info};
}

}  // namespace hp

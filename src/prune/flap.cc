// FLAP in headprune. One dense forward pass over the calibration set collects, for every
// sublayer, the mean, sample variance and L2 norm of each channel of its output-projection input
// (per-head context vectors, FFN activations) over the real tokens (src/score/act_stats.h). The
// fluctuation metric of channel c is var(x_c)·‖W_out[:, c]‖² (WIFV, the default); attention
// channels are squared, as in the reference. The metric is standardised over the channels of each
// sublayer (z-scores, "AL-AM"); a head scores the mean z of its d_head channels. All units of all
// sublayers are ranked by that score and kept in order while they fit the FLOPs budget
// (keep_best_under_budget, not per FLOP: the reference ranks by score and only counts the size).
// The removed channels' mean contribution W_out[:, removed]·mean(x_removed) is added to the
// output bias, so the sublayer's mean output over the calibration tokens is that of the dense one.
// With --uniform (PruneContext::uniform) the structure is the paper's uniform one, UL-UM: every
// layer keeps the same number of heads and of neurons (uniform_counts; each family about
// keep_flops of its own FLOPs), the best of each sublayer by the same z-scores.
//
// Differences from the reference (CASIA-IVA-Lab/FLAP, lib/prune.py and lib/layerwrapper.py), all
// deliberate:
//  - the budget is FLOPs (Budget, with K/V groups charged once) instead of parameters with the
//    hard-coded head weight 512/3 of LLaMA-7B; the threshold is the greedy fill, never over budget
//    (the reference picks the cut closest to the target, which may exceed it);
//  - the variance is the exact unbiased sample variance over tokens, padding excluded; the
//    reference's running update counts sequences, starts from zero after the first batch and
//    reuses an aliased old mean, which only approximates it;
//  - the compensation is added to the existing bias (the reference overwrites a bias it created
//    as zeros, which is the same there);
//  - a sublayer without an output bias (LLaMA) gets one: the prune job asks the architecture to add
//    zero biases first (MethodInfo::needs_output_biases, Architecture::add_output_biases; for
//    LLaMA HF's attention_bias/mlp_bias, so the result still loads in transformers), as the
//    reference does by creating them; where an architecture cannot, the method fails and names
//    bias_compensation=0 (a method may only return new values of existing tensors).
#include "prune/flap.h"

#include <cmath>
#include <optional>

#include "core/check.h"
#include "score/act_stats.h"

namespace hp {

namespace {

// z-scores over all entries; zeros when they are constant (or fewer than two).
torch::Tensor standardise(const torch::Tensor& m) {
  if (m.numel() < 2) return torch::zeros_like(m);
  const double sd = m.std().item<double>();
  if (!(sd > 0) || !std::isfinite(sd)) return torch::zeros_like(m);
  return (m - m.mean()) / sd;
}

}  // namespace

FlapScores flap_scores(Model& model, const CalibSet& calib, const std::string& metric,
                       Progress* bar) {
  HP_CHECK(metric == "wifv" || metric == "ifv" || metric == "wifn",
           "flap: metric must be wifv, wifn or ifv, got '", metric, "'");
  const auto& specs = model.sublayers();
  ChannelStatsProbe probe;
  probe.units = true;
  collect_channel_stats(model, calib, nullptr, probe, bar);
  FlapScores out;
  torch::NoGradGuard ng;
  for (size_t s = 0; s < specs.size(); ++s) {
    const auto& sp = specs[s];
    if (!sp.present()) {
      for (auto* v : {&out.channel, &out.unit, &out.mean}) v->push_back(torch::zeros({0}, torch::kDouble));
      continue;
    }
    HP_CHECK(s < probe.unit_stats.size() && !probe.unit_stats[s].empty(), "flap: sublayer ", s,
             " (", sp.name(), ") produced no output-projection inputs");
    const ChannelMoments mo = probe.unit_stats[s].to(torch::kCPU);
    const int64_t D = sp.units * sp.unit_width;
    HP_CHECK(mo.dim() == D, "flap: sublayer ", s, " (", sp.name(), ") has ", mo.dim(),
             " output-projection input channels, its spec ", D);
    auto w = out_proj_weight(model, sp).detach().to(torch::kCPU, torch::kDouble);  // [d_out, D]
    torch::Tensor m;
    if (metric == "ifv") m = mo.variance();
    else if (metric == "wifv") m = mo.variance() * w.pow(2).sum(0);
    else m = (w.abs() * mo.l2().view({1, -1})).mean(0);
    if (is_attention(sp.kind)) m = m.pow(2);
    out.channel.push_back(m);
    out.unit.push_back(standardise(m).view({sp.units, sp.unit_width}).mean(1));
    out.mean.push_back(mo.mean);
  }
  return out;
}

TensorMap flap_bias_compensation(const Model& model, const MaskSet& masks,
                                 const std::vector<torch::Tensor>& mean, int* uncompensated) {
  const auto& specs = model.sublayers();
  masks.check_against(specs);
  HP_CHECK(mean.size() == specs.size(), "flap: ", mean.size(), " mean vectors for ", specs.size(),
           " sublayers");
  torch::NoGradGuard ng;
  TensorMap out;
  int skipped = 0;
  for (size_t s = 0; s < specs.size(); ++s) {
    const auto& sp = specs[s];
    if (!sp.present() || !masks.sub[s].defined()) continue;
    auto m = masks.sub[s].to(torch::kCPU);
    auto removed = m.eq(0).nonzero().view(-1);  // [r] unit indices
    if (removed.numel() == 0) continue;
    if (removed.numel() == sp.units && !sp.bias_survives_empty) {
      ++skipped;  // the bias goes with the sublayer
      continue;
    }
    HP_CHECK(!sp.out_bias.empty(), "flap: sublayer ", s, " (", sp.name(),
             ") has no output-projection bias to receive the bias compensation; pass "
             "--param bias_compensation=0");
    const int64_t w = sp.unit_width;
    auto cols = (removed.view({-1, 1}) * w + torch::arange(w).view({1, -1})).view(-1);
    auto wout = out_proj_weight(model, sp).detach().to(torch::kCPU, torch::kDouble);  // [d, D]
    auto mu = mean.at(s).to(torch::kCPU, torch::kDouble);
    HP_CHECK(mu.numel() == wout.size(1), "flap: sublayer ", s, " has ", mu.numel(),
             " channel means for ", wout.size(1), " channels");
    auto comp = wout.index_select(1, cols).matmul(mu.index_select(0, cols));  // [d]
    auto b = model.param(sp.out_bias).detach();
    HP_CHECK(b.numel() == comp.numel(), "flap: bias ", sp.out_bias, " has ", b.numel(),
             " entries, the output projection ", comp.numel(), " rows");
    out[sp.out_bias] = (b.to(torch::kCPU, torch::kDouble).view(-1) + comp)
                           .view(b.sizes())
                           .to(b.scalar_type());
  }
  if (uncompensated) *uncompensated = skipped;
  return out;
}

bool flap_needs_output_biases(const nlohmann::json& params) {
  Params p(params, "flap");
  return p.flag("bias_compensation", true);
}

PruneOutput prune_flap(const PruneContext& ctx) {
  HP_CHECK(ctx.calib && ctx.tok, "flap needs calibration data and a tokenizer");
  Params p(ctx.params, "flap");
  const std::string metric = p.string("metric", "wifv");
  const bool bias = p.flag("bias_compensation", true);
  const int64_t n_samples = p.integer("calib_samples", 1024);
  const int batch = static_cast<int>(p.integer("batch_size", 32));
  p.finish();
  HP_CHECK(metric == "wifv" || metric == "ifv" || metric == "wifn",
           "flap: parameter metric must be wifv, wifn or ifv, got '", metric, "'");
  HP_CHECK(n_samples >= 0, "flap: calib_samples must be >= 0 (0 = all), got ", n_samples);
  Timer timer;
  const auto& specs = ctx.model.sublayers();
  const Budget budget(specs, ctx.seq_len);
  budget.target(ctx.keep_flops);  // validates keep_flops before any work
  if (bias)
    for (const auto& sp : specs)
      HP_CHECK(!sp.present() || !sp.out_bias.empty(), "flap: sublayer ", sp.index, " (", sp.name(),
               ") has no output-projection bias to receive the bias compensation; pass "
               "--param bias_compensation=0");
  CalibSet calib = make_calib_set(*ctx.calib, *ctx.tok, ctx.device, batch, n_samples, ctx.seed);
  std::optional<Progress> bar;
  if (ctx.progress) bar.emplace("flap", calib.batches.size());
  FlapScores sc = flap_scores(ctx.model, calib, metric, bar ? &*bar : nullptr);
  if (bar) bar->finish();

  PruneOutput out;
  out.masks = keep_best_under_budget(budget, sc.unit, ctx.keep_flops, /*per_flop=*/false,
                                     ctx.uniform);
  int uncompensated = 0;
  if (bias) out.weights = flap_bias_compensation(ctx.model, out.masks, sc.mean, &uncompensated);
  out.info = {{"calib_samples", calib.n_seq},
              {"calib_tokens", calib.n_tokens},
              {"metric", metric},
              {"structure", ctx.uniform ? "UL-UM" : "AL-AM"},
              {"bias_compensation", bias},
              {"compensated_sublayers", out.weights.size()},
              {"seconds", timer.seconds()}};
  if (uncompensated > 0) {
    out.info["emptied_without_bias"] = uncompensated;
    log_warn(str("flap: ", uncompensated, " sublayer(s) lost every unit; their output bias is "
                 "removed with them, so their mean contribution is not compensated"));
  }
  return out;
}

}  // namespace hp

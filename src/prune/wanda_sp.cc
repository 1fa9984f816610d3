// Wanda-sp in headprune. For each sublayer, the L2 norm over the real calibration tokens of every
// channel of its output-projection input is collected (src/score/act_stats.h), and a channel c
// scores mean_i |W_out[i, c]|·‖x_c‖₂ (Wanda's |W_ij|·‖X_j‖ averaged over the output rows); a head
// sums its d_head channels. Every sublayer then keeps the best units worth keep_flops of its own
// FLOPs (the reference's uniform ratio, here in FLOPs, K/V groups charged once). By default the
// statistics are sequential, as in the reference: the sublayers are decided bottom-up and each one
// is measured on the residual stream of the model pruned so far (cached per batch, StreamCache).
// --uniform fixes the counts up front (uniform_counts: the same number of units in every sublayer
// of a family, the budget's leftover given out level by level) and keeps the best of each
// sublayer by the same scores.
//
// Option inputs=1 adds the unit's input-projection rows (query rows and their share of the K/V
// rows of their group, FFN up/gate rows): Σ_rows mean_j |W_in[row, j]|·‖x_j‖₂ over the stream the
// projections read. The probe sees the residual stream before a pre-norm's normalisation, not
// after it, so this option is refused for pre-norm sublayers rather than scored on the wrong
// input; for cross-attention only the query rows count (its K/V read the other stack).
//
// Differences from the reference (CASIA-IVA-Lab/FLAP, lib/prune.py prune_wanda_sp), deliberate:
//  - the per-sublayer budget is keep_flops of the sublayer's FLOPs, not a fraction of its units;
//  - sequential statistics are per sublayer: a block's FFN is measured after its attention was
//    pruned (the reference measures both before pruning either);
//  - ‖x_c‖ is over all real tokens (the reference averages per-sequence squared norms of
//    fixed-length sequences, the same up to a constant).
#include "prune/wanda_sp.h"

#include <optional>

#include "core/check.h"
#include "core/log.h"
#include "score/calib.h"

namespace hp {

namespace {

bool same_slice(const UnitSlice& a, const UnitSlice& b) {
  return a.tensor == b.tensor && a.axis == b.axis && a.offset == b.offset && a.block == b.block;
}

// Σ per unit (or group) of mean_j |W[row, j]|·norm_j over the unit's rows of a 2-D slice that
// reads a d_model-wide input; undefined when the slice is not such a projection.
torch::Tensor input_rows_score(const Model& model, const UnitSlice& sl, int64_t n,
                               const torch::Tensor& norm) {
  auto w = model.param(sl.tensor).detach();
  if (w.dim() != 2) return {};
  w = w.narrow(sl.axis, sl.offset, n * sl.block).movedim(sl.axis, 0);  // [n*block, d_in]
  if (w.size(1) != norm.numel()) return {};
  w = w.to(torch::kCPU, torch::kDouble);
  auto rows = (w.abs() * norm.view({1, -1})).mean(1);  // [n*block]
  return rows.view({n, sl.block}).sum(1);               // [n]
}

void check_inputs_supported(const SublayerSpec& sp) {
  HP_CHECK(sp.norm == NormPlace::PostLN, "wanda-sp: inputs=1 scores the input projections on the "
           "sublayer's normalised input, which probes do not expose for the pre-norm sublayer ",
           sp.index, " (", sp.name(), "); use inputs=0");
  HP_CHECK(sp.memory_slots == 0, "wanda-sp: inputs=1 does not support persistent-memory sublayers (",
           sp.name(), "); use inputs=0");
}

}  // namespace

torch::Tensor wanda_sp_scores(const Model& model, int s, const ChannelMoments& units,
                              const ChannelMoments* input) {
  const auto& sp = model.sublayers().at(s);
  HP_CHECK(sp.present(), "wanda-sp: sublayer ", s, " is absent");
  const int64_t D = sp.units * sp.unit_width;
  HP_CHECK(units.dim() == D, "wanda-sp: sublayer ", s, " (", sp.name(), ") has ", units.dim(),
           " output-projection input channels, its spec ", D);
  torch::NoGradGuard ng;
  auto w = out_proj_weight(model, sp).detach().to(torch::kCPU, torch::kDouble);  // [d_out, D]
  auto norm = units.l2().to(torch::kCPU);
  auto score = (w.abs() * norm.view({1, -1})).mean(0).view({sp.units, sp.unit_width}).sum(1);
  if (!input) return score;
  check_inputs_supported(sp);
  auto in_norm = input->l2().to(torch::kCPU);
  for (const auto& sl : sp.unit_slices) {
    if (same_slice(sl, sp.out_proj)) continue;
    auto r = input_rows_score(model, sl, sp.units, in_norm);
    if (r.defined()) score = score + r;
  }
  if (sp.kind != SublayerKind::CrossAttn && sp.groups > 0) {
    for (const auto& sl : sp.group_slices) {
      auto r = input_rows_score(model, sl, sp.groups, in_norm);  // [groups]
      if (!r.defined()) continue;
      auto g = torch::arange(sp.units, torch::kLong).div(sp.group_size(), "floor");
      score = score + r.index_select(0, g) / static_cast<double>(sp.group_size());
    }
  }
  return score;
}

PruneOutput prune_wanda_sp(const PruneContext& ctx) {
  HP_CHECK(ctx.calib && ctx.tok, "wanda-sp needs calibration data and a tokenizer");
  Params p(ctx.params, "wanda-sp");
  const int64_t n_samples = p.integer("calib_samples", 128);
  const int batch = static_cast<int>(p.integer("batch_size", 32));
  const bool sequential = p.flag("sequential", true);
  const bool inputs = p.flag("inputs", false);
  p.finish();
  HP_CHECK(n_samples >= 0, "wanda-sp: calib_samples must be >= 0 (0 = all), got ", n_samples);
  Timer timer;
  Model& model = ctx.model;  // forward passes only
  const auto& specs = model.sublayers();
  const Budget budget(specs, ctx.seq_len);
  budget.target(ctx.keep_flops);  // validates keep_flops before any work
  if (inputs)
    for (const auto& sp : specs)
      if (sp.present()) check_inputs_supported(sp);
  CalibSet calib = make_calib_set(*ctx.calib, *ctx.tok, ctx.device, batch, n_samples, ctx.seed);
  const auto dtype = model_dtype(model);
  torch::NoGradGuard ng;

  // Keeps the best units of sublayer s worth keep_flops of its own FLOPs (--uniform: the
  // uniform_counts of the whole model, the same number in every sublayer of a family).
  const std::vector<int64_t> counts =
      ctx.uniform ? uniform_counts(budget, ctx.keep_flops) : std::vector<int64_t>();
  auto decide = [&](int s, const torch::Tensor& score) {
    if (ctx.uniform) return keep_top_k(specs[s], score, counts[s]);
    SublayerSpec one = specs[s];
    one.index = 0;
    const Budget b({one}, ctx.seq_len);
    return keep_best_under_budget(b, {score}, ctx.keep_flops, /*per_flop=*/false).sub[0];
  };

  MaskSet masks = MaskSet::ones(specs);
  std::optional<Progress> bar;
  if (ctx.progress) bar.emplace("wanda-sp", sequential ? specs.size() : calib.batches.size());
  if (sequential) {
    StreamCache cache;
    cache.init(model, calib);
    for (int s = 0; s < static_cast<int>(specs.size()); ++s) {
      if (specs[s].present()) {
        ChannelStatsProbe probe;
        probe.inputs = inputs;
        for (size_t b = 0; b < calib.batches.size(); ++b) {
          ForwardState st = cache.get(model, calib, b);
          probe.token_mask = calib.batches[b].token_mask;
          apply_sublayer(model, s, st, nullptr, &probe);  // sublayer s dense, on the pruned stream
        }
        masks.sub[s] = decide(s, wanda_sp_scores(model, s, probe.unit_stats.at(s),
                                                 inputs ? &probe.input_stats.at(s) : nullptr));
      }
      if (s + 1 < static_cast<int>(specs.size())) {
        const MaskSet mdev = masks.to(ctx.device, dtype);
        cache.advance(model, calib, &mdev);
      }
      if (bar) bar->step(1);
    }
  } else {
    ChannelStatsProbe probe;
    probe.inputs = inputs;
    collect_channel_stats(model, calib, nullptr, probe, bar ? &*bar : nullptr);
    for (int s = 0; s < static_cast<int>(specs.size()); ++s)
      if (specs[s].present())
        masks.sub[s] = decide(s, wanda_sp_scores(model, s, probe.unit_stats.at(s),
                                                 inputs ? &probe.input_stats.at(s) : nullptr));
  }
  if (bar) bar->finish();

  PruneOutput out;
  out.masks = masks;
  out.info = {{"calib_samples", calib.n_seq},
              {"calib_tokens", calib.n_tokens},
              {"sequential", sequential},
              {"inputs", inputs},
              {"ranking", ctx.uniform ? "uniform_counts" : "uniform"},
              {"seconds", timer.seconds()}};
  return out;
}

}  // namespace hp

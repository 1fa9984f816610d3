#include "score/knowledge.h"

#include <optional>

#include "core/check.h"
#include "core/log.h"
#include "score/grads.h"

namespace hp {

Knowledge measure_knowledge(Model& model, const CalibSet& calib, const StreamCache& stream,
                            const std::vector<torch::Tensor>& teacher, double temperature,
                            const std::string& progress_label) {
  const auto& cfg = model.config();
  const int first = stream.position();
  HP_CHECK(teacher.size() == calib.batches.size(), "knowledge: ", teacher.size(),
           " teacher outputs for ", calib.batches.size(), " batches");
  HP_CHECK(stream.size() == calib.batches.size(), "knowledge: stream cache holds ", stream.size(),
           " batches, calibration set ", calib.batches.size());
  Knowledge k;
  for (const auto& l : cfg.layers) {
    k.head_pred.push_back(torch::zeros({l.n_head}, torch::kDouble));
    k.head_rep.push_back(torch::zeros({l.n_head}, torch::kDouble));
    k.neuron_pred.push_back(torch::zeros({l.n_ff}, torch::kDouble));
    k.neuron_rep.push_back(torch::zeros({l.n_ff}, torch::kDouble));
  }
  // (W²).mean over output rows, per input unit dimension: fixed during one measurement.
  std::vector<torch::Tensor> w2_attn(cfg.n_layer), w2_ffn(cfg.n_layer);
  for (int s = first; s < n_sublayers(cfg); ++s) {
    const int il = s / 2;
    if (sublayer_units(cfg, s) == 0) continue;
    auto nm = model.names(il);
    auto w = model_param(model, s % 2 ? nm.w_down : nm.wo).detach();  // [d, units·width]
    (s % 2 ? w2_ffn : w2_attn)[il] = w.to(torch::kDouble).pow(2).mean(0).cpu();  // [D]
  }
  std::optional<Progress> bar;
  if (!progress_label.empty()) bar.emplace(progress_label, calib.batches.size());
  const torch::Dtype dtype = model_dtype(model);
  for (size_t b = 0; b < calib.batches.size(); ++b) {
    const auto& cb = calib.batches[b];
    const auto dev = cb.in.input_ids.device();
    auto st = begin_stack(model, cb);  // context only; the stream replaces st.x
    MaskSet m = grad_masks(cfg, dev, dtype);
    Trace tr;
    tr.keep_units = true;
    auto logits = forward_from(model, cb, st.ctx, stream.get(b, dev), first, &m, &tr);
    auto loss = distill_loss(calib.task, logits, teacher[b], temperature);
    DimGrads g = unit_dim_grads(loss, tr);
    auto tok = cb.token_mask;  // [B, T]
    for (int s = first; s < n_sublayers(cfg); ++s) {
      const int il = s / 2;
      const bool ffn = s % 2;
      const auto& u = ffn ? tr.ffn_units[il] : tr.attn_units[il];  // [B, T, D]
      if (!u.defined()) continue;
      auto gd = ffn ? g.ffn[il] : g.attn[il];  // [D]
      auto pred = 0.5 * gd.pow(2);              // [D]
      auto x2 = u.detach().index({tok}).to(torch::kDouble).pow(2).sum(0).cpu();  // [D], real tokens
      auto rep = x2 * (ffn ? w2_ffn : w2_attn)[il];
      if (!ffn) {
        // Heads: mean over the head's d_head dimensions (as the reference does for both terms).
        const int64_t h = cfg.layers[il].n_head;
        pred = pred.view({h, -1}).mean(1);  // [H]
        rep = rep.view({h, -1}).mean(1);
        k.head_pred[il] += pred;
        k.head_rep[il] += rep;
      } else {
        k.neuron_pred[il] += pred;
        k.neuron_rep[il] += rep;
      }
    }
    if (bar) bar->step(1);
  }
  if (bar) bar->finish();
  const double ns = static_cast<double>(calib.n_seq), nt = static_cast<double>(calib.n_tokens);
  for (int il = 0; il < cfg.n_layer; ++il) {
    k.head_pred[il] /= ns;
    k.neuron_pred[il] /= ns;
    k.head_rep[il] /= nt;
    k.neuron_rep[il] /= nt;
  }
  return k;
}

}  // namespace hp

#include "score/knowledge.h"

#include <optional>

#include "core/check.h"
#include "core/log.h"
#include "score/grads.h"

namespace hp {

Knowledge measure_knowledge(Model& model, const CalibSet& calib, const StreamCache& stream,
                            const std::vector<torch::Tensor>& teacher, double temperature,
                            const std::string& progress_label) {
  const auto& specs = model.sublayers();
  const int first = stream.position();
  HP_CHECK(teacher.size() == calib.batches.size(), "knowledge: ", teacher.size(),
           " teacher outputs for ", calib.batches.size(), " batches");
  HP_CHECK(stream.size() == calib.batches.size(), "knowledge: stream cache holds ", stream.size(),
           " batches, calibration set ", calib.batches.size());
  Knowledge k;
  for (const auto& sp : specs) {
    k.pred.push_back(torch::zeros({sp.units}, torch::kDouble));
    k.rep.push_back(torch::zeros({sp.units}, torch::kDouble));
  }
  k.stream_energy.assign(specs.size(), 0.0);
  // (W²).mean over output rows, per input unit dimension: fixed during one measurement.
  std::vector<torch::Tensor> w2(specs.size());
  for (int s = first; s < model.n_sublayers(); ++s) {
    if (!specs[s].present()) continue;
    auto w = out_proj_weight(model, specs[s]).detach();  // [d, units·width]
    w2[s] = w.to(torch::kDouble).pow(2).mean(0).cpu();   // [D]
  }
  std::optional<Progress> bar;
  if (!progress_label.empty()) bar.emplace(progress_label, calib.batches.size());
  const torch::Dtype dtype = model_dtype(model);
  for (size_t b = 0; b < calib.batches.size(); ++b) {
    const auto& cb = calib.batches[b];
    const auto dev = cb.in.input_ids.device();
    MaskSet m = grad_masks(specs, dev, dtype);
    Recorder rec;
    rec.keep_units = true;
    rec.keep_inputs = true;
    auto logits = forward_from(model, stream.get(model, calib, b), first, &m, &rec);
    auto loss = distill_loss(calib.task, logits, teacher[b], temperature);
    UnitScores g = unit_dim_grads(loss, rec);
    auto tok = cb.token_mask;  // [B, T]
    for (int s = first; s < model.n_sublayers(); ++s) {
      if (s >= static_cast<int>(rec.units.size()) || !rec.units[s].defined()) continue;
      const auto& u = rec.units[s];  // [B, T, D]
      auto pred = 0.5 * g[s].pow(2);  // [D]
      auto x2 = u.detach().index({tok}).to(torch::kDouble).pow(2).sum(0).cpu();  // [D], real tokens
      auto rep = x2 * w2[s];
      if (s < static_cast<int>(rec.inputs.size()) && rec.inputs[s].defined()) {
        const auto& xin = rec.inputs[s];  // [B, T, d]
        k.stream_energy[s] += xin.detach().index({tok}).to(torch::kDouble).pow(2).mean(-1).sum().item<double>();
      }
      if (specs[s].unit_width > 1) {
        // Wide units (heads): mean over their dimensions (as the reference does for both terms).
        pred = pred.view({specs[s].units, -1}).mean(1);  // [units]
        rep = rep.view({specs[s].units, -1}).mean(1);
      }
      k.pred[s] += pred;
      k.rep[s] += rep;
    }
    if (bar) bar->step(1);
  }
  if (bar) bar->finish();
  const double ns = static_cast<double>(calib.n_seq), nt = static_cast<double>(calib.n_tokens);
  for (size_t s = 0; s < specs.size(); ++s) {
    k.pred[s] /= ns;
    k.rep[s] /= nt;
    k.stream_energy[s] /= nt;
  }
  return k;
}

}  // namespace hp

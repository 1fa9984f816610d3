#include "score/grads.h"

#include <optional>

#include "core/check.h"
#include "core/log.h"

namespace hp {

MaskSet grad_masks(const std::vector<SublayerSpec>& specs, torch::Device device, torch::Dtype dtype,
                   const MaskSet* base) {
  MaskSet m = base ? base->to(device, dtype) : MaskSet::ones(specs).to(device, dtype);
  m.check_against(specs);
  for (size_t s = 0; s < specs.size(); ++s) {
    auto& t = m.sub[s];
    if (!t.defined()) t = torch::ones({specs[s].units}, torch::dtype(dtype).device(device));
    // Fresh leaves: `to` may have returned the caller's tensor itself.
    t = t.detach().clone().requires_grad_(true);
  }
  return m;
}

namespace {
torch::Tensor to_cpu_double(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU, torch::kDouble);
}
}  // namespace

UnitScores mask_grads(const torch::Tensor& loss, const MaskSet& masks) {
  std::vector<torch::Tensor> inputs;
  for (const auto& t : masks.sub)
    if (t.defined() && t.numel() > 0 && t.requires_grad()) inputs.push_back(t);
  std::vector<torch::Tensor> g;
  if (!inputs.empty() && loss.requires_grad())
    g = torch::autograd::grad({loss}, inputs, {}, /*retain_graph=*/false, /*create_graph=*/false,
                              /*allow_unused=*/true);
  UnitScores out;
  size_t k = 0;
  for (const auto& t : masks.sub) {
    const int64_t n = t.defined() ? t.numel() : 0;
    torch::Tensor r = torch::zeros({n}, torch::kDouble);
    if (t.defined() && n > 0 && t.requires_grad()) {
      if (k < g.size() && g[k].defined()) r = to_cpu_double(g[k]).view({n});
      ++k;
    }
    out.push_back(r);
  }
  return out;
}

UnitScores unit_dim_grads(const torch::Tensor& loss, const Recorder& rec) {
  std::vector<torch::Tensor> inputs;
  std::vector<size_t> where;
  for (size_t s = 0; s < rec.units.size(); ++s)
    if (rec.units[s].defined() && rec.units[s].requires_grad()) {
      inputs.push_back(rec.units[s]);
      where.push_back(s);
    }
  UnitScores out(rec.units.size());
  HP_CHECK(!inputs.empty(), "unit gradients: the recorder holds no units that require grad (run "
           "the forward with Recorder::keep_units and masks from grad_masks)");
  auto g = torch::autograd::grad({loss}, inputs, {}, false, false, /*allow_unused=*/true);
  for (size_t k = 0; k < inputs.size(); ++k) {
    const auto& u = inputs[k];  // [B, T, D]
    torch::Tensor d = g[k].defined()
                          ? (g[k].detach() * u.detach()).sum(at::IntArrayRef{0, 1})  // [D]
                          : torch::zeros({u.size(-1)}, u.options());
    out[where[k]] = to_cpu_double(d);
  }
  return out;
}

std::vector<UnitScores> collect_mask_grads(Model& model, const CalibSet& calib,
                                           const BatchLossFn& loss_fn, const MaskSet* at,
                                           const std::string& progress_label) {
  const auto dev = calib.batches.empty() ? torch::Device(torch::kCPU)
                                         : calib.batches[0].in.input_ids.device();
  std::optional<Progress> bar;
  if (!progress_label.empty()) bar.emplace(progress_label, calib.batches.size());
  std::vector<UnitScores> out;
  for (size_t b = 0; b < calib.batches.size(); ++b) {
    MaskSet m = grad_masks(model.sublayers(), dev, model_dtype(model), at);
    auto logits = calib_logits(model, calib.batches[b], &m);
    auto loss = loss_fn(logits, b);
    out.push_back(mask_grads(loss, m));
    if (bar) bar->step(1);
  }
  if (bar) bar->finish();
  return out;
}

namespace {
UnitScores reduce(const std::vector<UnitScores>& per_batch, bool square) {
  UnitScores s;
  for (const auto& g : per_batch) {
    if (s.empty())
      for (const auto& t : g) s.push_back(torch::zeros_like(t));
    for (size_t i = 0; i < g.size(); ++i) s[i] += square ? g[i].pow(2) : g[i].abs();
  }
  return s;
}
}  // namespace

UnitScores sum_squares(const std::vector<UnitScores>& per_batch) { return reduce(per_batch, true); }
UnitScores sum_abs(const std::vector<UnitScores>& per_batch) { return reduce(per_batch, false); }

std::vector<UnitScores> collect_task_loss_grads(Model& model, const CalibSet& calib,
                                                const MaskSet* at,
                                                const std::string& progress_label) {
  const std::string task = calib.task;
  return collect_mask_grads(
      model, calib,
      [&](const torch::Tensor& logits, size_t b) { return task_loss_of(task, logits, calib.batches[b]); },
      at, progress_label);
}

}  // namespace hp
